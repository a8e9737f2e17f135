"""GraphiQL from files shipped in the package: the page works with no network.

Strawberry's own page loads GraphiQL from a CDN (blank offline, and a third party's
script on a page that holds bearer tokens). Ours loads app/static/graphiql/ only, under a
CSP that allows no inline script and no other origin.
"""

from __future__ import annotations

import hashlib
import secrets
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

PACKAGE = Path(__file__).resolve().parents[1]
STATIC_DIR = PACKAGE / "static" / "graphiql"
TEMPLATE = PACKAGE / "templates" / "graphiql.html"
STATIC_PATH = "/graphql/static"


def content_security_policy(nonce: str) -> str:
    """Scripts from this origin only. GraphiQL and its editors set styles through the DOM
    (which style-src does not govern), except its menus' scroll lock: a <style> element
    that carries the page's nonce (boot.js hands it over). Fonts and icons are data: URLs."""
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            f"style-src 'self' 'nonce-{nonce}'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


_PAGE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # Queries typed into GraphiQL end up in its URL on some versions; keep them home.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
# Asset URLs carry the files' digest (?v=), so a release can be cached for good.
_ASSET_CACHE = "public, max-age=31536000, immutable"


@cache
def _template() -> str:
    return TEMPLATE.read_text(encoding="utf-8")


@cache
def asset_version() -> str:
    """A digest of every file served under STATIC_PATH: changes whenever one does."""
    digest = hashlib.sha256()
    for path in sorted(p for p in STATIC_DIR.rglob("*") if p.is_file()):
        digest.update(path.relative_to(STATIC_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def page(request: Request) -> Response:
    # root_path: the app may be mounted under a prefix by an embedding application.
    static = request.scope.get("root_path", "").rstrip("/") + STATIC_PATH
    nonce = secrets.token_urlsafe(18)
    html = (
        _template()
        .replace("{{ static }}", static)
        .replace("{{ version }}", asset_version())
        .replace("{{ nonce }}", nonce)
    )
    return HTMLResponse(html, headers={**_PAGE_HEADERS, "Content-Security-Policy": content_security_policy(nonce)})


class _Assets(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = _ASSET_CACHE
            response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def assets() -> Mount:
    """The route serving app/static/graphiql/ (mounted only while GRAPHIQL is on)."""
    # html=False: files only, no index.html lookups (StaticFiles never lists directories).
    return Mount(STATIC_PATH, app=_Assets(directory=STATIC_DIR, html=False), name="graphiql-static")
