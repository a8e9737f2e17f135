"""The passkey pages: `/auth/pages/passkeys` (a signed-in person adds, names and removes
passkeys) and `/auth/pages/passkey-login` (signs in with one, then goes to `redirect`).

The browser does the WebAuthn calls, so both pages are a template plus app/static/passkeys.js,
which talks to /graphql with JSON (the session cookie counts there: JSON content type and our
own Origin, app/http/caller.py). Sign-in uses mode `session`, so the cookie the passkeys page
needs is the one this sign-in sets. The pages must be opened at PUBLIC_URL: WebAuthn checks
the page's origin against it.

`redirect` must pass MAGIC_LINK_URL_ALLOW_LIST (the other passwordless sign-in's list: the
same places a signed-in browser may be sent); our own pages are always allowed.
"""

from __future__ import annotations

import posixpath

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.auth.links import allowed_target, build_link
from app.errors import AppError
from app.http.pages import error_page
from app.http.templating import HEADERS, render
from app.services.container import Services

# The pages' policy, plus fetch() to our own /graphql.
CSP = HEADERS["Content-Security-Policy"] + "; connect-src 'self'"


def _relative(request: Request, path: str) -> str:
    """`path` relative to the page, so it holds behind a proxy that adds a path prefix."""
    return posixpath.relpath(path, posixpath.dirname(request.url.path))


async def passkeys(request: Request) -> Response:
    services: Services = request.app.state.services
    response = render(
        request,
        services.settings,
        "passkeys.html",
        graphql_url=_relative(request, "/graphql"),
        login_url=_relative(request, "/auth/pages/passkey-login"),
    )
    response.headers["Content-Security-Policy"] = CSP
    return response


async def passkey_login(request: Request) -> Response:
    services: Services = request.app.state.services
    settings = services.settings
    redirect = request.query_params.get("redirect")
    target = ""
    if redirect:
        try:
            target = build_link(allowed_target(redirect, settings.magic_link_url_allow_list, settings.public_url))
        except AppError as error:
            return error_page(request, settings, "passkey_login.html", error)
    response = render(
        request, settings, "passkey_login.html", graphql_url=_relative(request, "/graphql"), redirect=target
    )
    response.headers["Content-Security-Policy"] = CSP
    return response


routes = [
    Route("/auth/pages/passkeys", passkeys, methods=["GET"]),
    Route("/auth/pages/passkey-login", passkey_login, methods=["GET"]),
]
