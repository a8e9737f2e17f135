"""Where emailed links and redirects may point, and how they are written.

A URL from the request is never used as given. `allowed_target` refuses anything but a
plain http(s) URL on an allow list and returns its parsed parts; `build_link` writes the
link from those parts, adding our parameters (the token, an error reason) through query
encoding. What the check saw is exactly what the mail, the page or the `Location` header
carries, so no character the parser skipped can smuggle another target into the text.

Allow-list entries name scheme, host, port and path, compared exactly (the query and
fragment of an entry are ignored). An entry whose path ends with `/` also allows every path
below it: `https://app.example.com/reset` allows only `/reset`, while
`https://app.example.com/account/` allows `/account/` and `/account/reset`, never
`/account-evil`. Every page of this server (`PUBLIC_URL` and below) is always allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from app.errors import InvalidPayload

MAX_URL_LENGTH = 2048
# RFC 3986's characters and nothing else. Whitespace of any kind (urlsplit silently drops
# \n, \r and \t), control and other non-ASCII characters, backslashes (browsers read them
# as `/`), quotes and angle brackets are refused, never cleaned: percent-encode them.
_URL_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
# A host is compared with the allow list exactly, so this only keeps out the empty and the
# odd (percent-escapes, sub-delims); `_` stays, as in container names like `auth_server`.
_HOST = re.compile(r"[a-z0-9\-._~]+|[0-9a-f:.]*:[0-9a-f:.]*")
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class LinkTarget:
    """A checked http(s) URL, taken apart."""

    scheme: str
    host: str  # lower case; an IPv6 address without its brackets
    port: int | None  # None for the scheme's default port
    path: str  # never empty, percent-encoding kept as given
    query: tuple[tuple[str, str], ...]  # decoded name/value pairs, re-encoded on output
    fragment: str

    def allows(self, other: LinkTarget) -> bool:
        """As an allow-list entry: does it admit `other`?"""
        if (other.scheme, other.host, other.port) != (self.scheme, self.host, self.port):
            return False
        if self.path.endswith("/"):
            return other.path.startswith(self.path)
        return other.path == self.path


def allowed_target(url: str, allow_list: tuple[str, ...], public_url: str) -> LinkTarget:
    """The parsed target of `url` when it is well formed and allow-listed, else INVALID_PAYLOAD."""
    target = _parse(url)
    entries = [*allow_list, public_url.rstrip("/") + "/"]
    if not any(entry.allows(target) for entry in map(_entry, entries) if entry is not None):
        raise InvalidPayload("URL is not allowed.")
    return target


def link_target(url: str | None, allow_list: tuple[str, ...], public_url: str, default_path: str) -> LinkTarget:
    """Where a mailed link points: the given URL when it is allowed (else INVALID_PAYLOAD),
    or, when the request names none, our own page at `default_path`."""
    if url:
        return allowed_target(url, allow_list, public_url)
    return server_page(public_url, default_path)


def server_page(public_url: str, path: str) -> LinkTarget:
    """One of our own pages: where links point when the request names no URL."""
    return _parse(public_url.rstrip("/") + path)


def build_link(target: LinkTarget, **params: str) -> str:
    """The URL of `target` with `params` set in its query (replacing any of the same name,
    so a `token` in the given URL can never stand in for ours)."""
    query = [(k, v) for k, v in target.query if k not in params] + list(params.items())
    host = f"[{target.host}]" if ":" in target.host else target.host
    netloc = host if target.port is None else f"{host}:{target.port}"
    return urlunsplit((target.scheme, netloc, target.path, urlencode(query), target.fragment))


def allowed_origins(allow_list: tuple[str, ...]) -> list[str]:
    """The origins (`scheme://host[:port]`) the entries of `allow_list` point at, as a
    Content-Security-Policy source list writes them. IPv6 hosts are left out: CSP has no
    way to name one."""
    origins = []
    for entry in map(_entry, allow_list):
        if entry is not None and ":" not in entry.host:
            origins.append(entry.scheme + "://" + entry.host + ("" if entry.port is None else f":{entry.port}"))
    return sorted(set(origins))


def _parse(url: str) -> LinkTarget:
    if not url or len(url) > MAX_URL_LENGTH or not _URL_CHARS.fullmatch(url) or _BAD_ESCAPE.search(url):
        raise InvalidPayload("Invalid URL.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a bad port or IPv6 literal
        raise InvalidPayload("Invalid URL.") from None
    host = parts.hostname or ""
    if (
        parts.scheme not in _DEFAULT_PORTS
        # userinfo (`https://app.example.com@evil.test/`) reads as one host to people and as
        # another to browsers: never part of a link we send.
        or "@" in parts.netloc
        or not _HOST.fullmatch(host)
    ):
        raise InvalidPayload("Invalid URL.")
    path = parts.path or "/"
    # Dot segments (also encoded) would let `/reset/../admin` pass a `/reset/` entry.
    if not path.startswith("/") or any(segment in (".", "..") for segment in unquote(path).split("/")):
        raise InvalidPayload("Invalid URL.")
    return LinkTarget(
        scheme=parts.scheme,
        host=host,
        port=None if port == _DEFAULT_PORTS[parts.scheme] else port,
        path=path,
        query=tuple(parse_qsl(parts.query, keep_blank_values=True)),
        fragment=parts.fragment,
    )


def _entry(url: str) -> LinkTarget | None:
    try:
        return _parse(url)
    except InvalidPayload:
        return None  # a malformed allow-list entry allows nothing
