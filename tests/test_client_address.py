"""IP_TRUST_PROXY: behind trusted proxies the client is the rightmost X-Forwarded-For address
that is not one of them; what a client writes to the left of that changes nothing."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from ipaddress import ip_network
from pathlib import Path

import httpx
import pytest
from starlette.config import Config

from app.config import ConfigError, Settings
from app.http.forwarded import client_address
from app.models import AuditEvent, Session
from tests.conftest import LOGIN, Api, another_client

REAL = "203.0.113.7"  # the client's real address, as the proxy appends it


def spoofed(i: int) -> dict[str, str]:
    """A client writing a fresh address of its own first; the proxy appends the real one."""
    return {"X-Forwarded-For": f"198.51.100.{i}, {REAL}"}


async def signed_in_from(api: Api, headers: dict[str, str]) -> tuple[str | None, str | None]:
    """(the new session's ip, the audit trail's ip) after a sign-in with these headers."""
    await api.signup()
    variables = {"email": "ana@example.com", "password": "correct horse battery"}
    result = await api.gql(LOGIN, variables, headers=headers)
    assert result.get("errors") is None, result
    session = await Session.all().order_by("-created_at").first()
    event = await AuditEvent.filter(action="login").order_by("-id").first()
    assert session and event
    return session.ip, event.ip


async def test_spoofed_first_entries_do_not_escape_the_rate_limit(app_with) -> None:  # type: ignore[no-untyped-def]
    limits = {"rate_limiter_enabled": True, "RATE_LIMITER_POINTS": 3, "RATE_LIMITER_DURATION": 60}
    async with app_with(IP_TRUST_PROXY="true", **limits) as api:
        statuses = [(await api.http.get("/auth", headers=spoofed(i))).status_code for i in range(6)]
        assert statuses == [200] * 3 + [429] * 3
        # The limit is the client's, not the proxy's: another client behind it still passes.
        other = await api.http.get("/auth", headers={"X-Forwarded-For": "203.0.113.8"})
        assert other.status_code == 200


async def test_the_session_and_the_audit_trail_record_the_rightmost_untrusted_address(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(IP_TRUST_PROXY="127.0.0.1, 10.1.0.0/16") as api:
        # Client-written entry, the real client, then a second proxy of ours.
        headers = {"X-Forwarded-For": f"198.51.100.1, {REAL}, 10.1.2.3"}
        assert await signed_in_from(api, headers) == (REAL, REAL)


async def test_several_header_lines_are_one_list(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(IP_TRUST_PROXY="true") as api:
        response = await api.http.get(
            "/auth", headers=[("X-Forwarded-For", "198.51.100.1"), ("X-Forwarded-For", f"{REAL}, 10.0.0.2")]
        )
        assert response.status_code == 200
        assert await signed_in_from(api, {"X-Forwarded-For": f"198.51.100.1, {REAL}"}) == (REAL, REAL)


async def test_an_untrusted_peer_is_the_client_whatever_it_forwards(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(IP_TRUST_PROXY="true") as api:
        async with another_client(api, "198.51.100.50") as direct:
            assert await signed_in_from(direct, {"X-Forwarded-For": REAL}) == ("198.51.100.50", "198.51.100.50")


async def test_without_trusted_proxies_the_header_is_ignored(api: Api) -> None:
    assert await signed_in_from(api, {"X-Forwarded-For": REAL}) == ("127.0.0.1", "127.0.0.1")


async def test_a_malformed_hop_stops_at_the_last_address_read(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(IP_TRUST_PROXY="true") as api:
        assert await signed_in_from(api, {"X-Forwarded-For": f"{REAL}, not-an-address"}) == (
            "127.0.0.1",
            "127.0.0.1",
        )


TRUSTED = (ip_network("127.0.0.0/8"), ip_network("10.0.0.0/8"), ip_network("::1/128"))


@pytest.mark.parametrize(
    ("peer", "header", "client"),
    [
        ("127.0.0.1", f"198.51.100.1, {REAL}", REAL),
        ("127.0.0.1", f"{REAL}, 10.0.0.1, 10.0.0.2", REAL),
        ("127.0.0.1", "10.0.0.1, 10.0.0.2", "10.0.0.1"),  # only our own hops: the farthest
        ("127.0.0.1", f"garbage, {REAL}", REAL),  # left of the client: never read
        ("127.0.0.1", f"{REAL}, unknown", "127.0.0.1"),
        ("127.0.0.1", f"{REAL}, 10.0.0.1, ", "127.0.0.1"),  # an empty hop is malformed too
        ("127.0.0.1", f"{REAL}:4711", REAL),
        ("127.0.0.1", "[2001:db8::1]:443", "2001:db8::1"),
        ("127.0.0.1", "2001:db8::1", "2001:db8::1"),
        ("127.0.0.1", f"::ffff:{REAL}", REAL),
        ("::1", REAL, REAL),
        ("198.51.100.9", REAL, "198.51.100.9"),  # not a proxy of ours
        ("testclient", REAL, "testclient"),
    ],
)
def test_client_address(peer: str, header: str, client: str) -> None:
    assert client_address(peer, [header], TRUSTED) == client


def _settings(value: str) -> Settings:
    return Settings.from_env(Config(environ={"SECRET": "s" * 40, "IP_TRUST_PROXY": value}))


def test_ip_trust_proxy_is_false_true_or_a_list() -> None:
    assert _settings("false").ip_trust_proxy == ()
    private = _settings("true").ip_trust_proxy
    assert ip_network("127.0.0.0/8") in private and ip_network("192.168.0.0/16") in private
    assert ip_network("fc00::/7") in private and ip_network("::1/128") in private
    listed = _settings(" 203.0.113.10 , 10.1.0.0/16,2001:db8::/32").ip_trust_proxy
    assert listed == (ip_network("203.0.113.10/32"), ip_network("10.1.0.0/16"), ip_network("2001:db8::/32"))
    assert Settings.from_env(Config(environ={"SECRET": "s" * 40})).ip_trust_proxy == ()


@pytest.mark.parametrize("value", ["proxy.example.com", "10.0.0.300", "10.0.0.0/33", "true,10.0.0.1"])
def test_a_bad_ip_trust_proxy_entry_stops_start_up(value: str) -> None:
    with pytest.raises(ConfigError, match="IP_TRUST_PROXY"):
        _settings(value)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_the_served_app_does_not_let_uvicorn_trust_every_hop(tmp_path: Path) -> None:
    """`python -m app serve` behind a proxy on loopback: spoofed first entries must not
    become the client (uvicorn's forwarded_allow_ips="*" took the leftmost)."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite://{tmp_path}/served.db",
        "SECRET": "s" * 40,
        "PORT": str(port),
        "IP_TRUST_PROXY": "true",
        "RATE_LIMITER_POINTS": "3",
        "RATE_LIMITER_DURATION": "60",
        "LOG_LEVEL": "warning",
    }
    env.pop("TEST_DATABASE_URL", None)
    root = Path(__file__).resolve().parents[1]
    server = subprocess.Popen([sys.executable, "-m", "app", "serve"], cwd=root, env=env)  # noqa: S603
    try:
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            while True:
                try:
                    await client.get("/health")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "the server did not start"
                    await asyncio.sleep(0.2)
            statuses = [(await client.get("/auth", headers=spoofed(i))).status_code for i in range(6)]
        assert statuses == [200] * 3 + [429] * 3
    finally:
        server.terminate()
        server.wait(10)
