"""The client's address behind reverse proxies (IP_TRUST_PROXY).

Each proxy appends the address it received the request from to `X-Forwarded-For`, and the
client can write anything to the left of that. So the header is read from the right: hops
are skipped while they are trusted proxies, and the first address that is not one is the
client. Only when the direct peer is itself a trusted proxy does the header count at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from starlette.types import ASGIApp, Receive, Scope, Send

Networks = tuple[IPv4Network | IPv6Network, ...]


def client_address(peer: str, forwarded_for: Iterable[str], trusted: Networks) -> str:
    """The rightmost address that is not a trusted proxy; a malformed hop ends the walk at
    the last address read (nothing to its left can be vouched for)."""
    if not _trusted(_parse(peer), trusted):
        return peer
    hops = [hop for value in forwarded_for for hop in value.split(",")]
    client = peer
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            break
        client = str(address)
        if not _trusted(address, trusted):
            break
    return client


def _parse(text: str) -> IPv4Address | IPv6Address | None:
    """An address as proxies write it: `203.0.113.7`, `203.0.113.7:4711`, `2001:db8::1` or
    `[2001:db8::1]:4711`; None for anything else (`unknown`, names, garbage)."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPv4Address | IPv6Address | None, trusted: Networks) -> bool:
    return address is not None and any(address in network for network in trusted)


class ClientAddress:
    """Rewrites the ASGI client to the address `client_address` finds, before anything
    reads it: the rate limit, sessions and the audit trail see one and the same client."""

    def __init__(self, app: ASGIApp, trusted: Networks) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        peer = scope.get("client")
        if scope["type"] in ("http", "websocket") and peer:
            forwarded = [value.decode("latin-1") for name, value in scope["headers"] if name == b"x-forwarded-for"]
            if forwarded:
                client = client_address(peer[0], forwarded, self.trusted)
                if client != peer[0]:
                    # In place, as uvicorn's proxy middleware does: the outermost error
                    # handler reads the same scope as the route (app/http/failures.py).
                    scope["client"] = (client, 0)
        await self.app(scope, receive, send)
