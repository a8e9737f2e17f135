"""Directus's REST twins under /auth, the JWKS, and /health."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.config import Settings
from app.errors import from_exception
from app.http.caller import client_of
from app.http.delivery import Mode, clear_session_cookies, deliver, presented_refresh_token, set_cookies
from app.http.responses import error_response, field, json_body
from app.services.container import Services
from app.services.health import database_ready
from app.services.sessions import IssuedTokens

Handler = Callable[[Request, Services], Awaitable[Response]]


def _endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request, request.app.state.services)
        except Exception as exc:  # noqa: BLE001 - mapped to the contract's codes
            return error_response(from_exception(exc))

    return endpoint


def _tokens(issued: IssuedTokens, mode: Mode, settings: Settings, presented_in: Mode | None = None) -> Response:
    body, jar = deliver(issued, mode, settings, presented_in=presented_in)
    response = JSONResponse({"data": body.as_json()})
    set_cookies(response, jar)
    return response


async def login(request: Request, services: Services) -> Response:
    body = await json_body(request)
    mode = Mode.named(field(body, "mode", required=False))
    payload = {"email": field(body, "email") or "", "password": field(body, "password") or ""}
    issued = await services.auth.login("email", payload, client_of(request), otp=field(body, "otp", required=False))
    return _tokens(issued, mode, services.settings)


async def refresh(request: Request, services: Services) -> Response:
    body = await json_body(request)
    mode = Mode.named(field(body, "mode", required=False))
    presented = presented_refresh_token(request, services.settings, mode, field(body, "refresh_token", required=False))
    issued = await services.auth.refresh(presented.token)
    return _tokens(issued, mode, services.settings, presented.cookie)


async def logout(request: Request, services: Services) -> Response:
    body = await json_body(request)
    mode = Mode.named(field(body, "mode", required=False))
    presented = presented_refresh_token(request, services.settings, mode, field(body, "refresh_token", required=False))
    await services.auth.logout(presented.token)
    response = Response(status_code=204)
    clear_session_cookies(response, services.settings)
    return response


async def password_request(request: Request, services: Services) -> Response:
    body = await json_body(request)
    await services.users.request_password_reset(field(body, "email") or "", field(body, "reset_url", required=False))
    return Response(status_code=204)


async def password_reset(request: Request, services: Services) -> Response:
    body = await json_body(request)
    await services.users.reset_password(field(body, "token") or "", field(body, "password") or "")
    return Response(status_code=204)


async def providers(request: Request, services: Services) -> Response:
    data = [{"name": p.name, "driver": p.driver, "icon": p.icon} for p in services.settings.social_providers]
    return JSONResponse({"data": data, "disableDefault": services.settings.auth_disable_default})


async def providers_legacy(request: Request, services: Services) -> Response:
    return JSONResponse({"data": [p.name for p in services.settings.social_providers]})


async def jwks(request: Request, services: Services) -> Response:
    return JSONResponse(services.access_tokens.jwks(), headers={"Cache-Control": "public, max-age=300"})


async def health(request: Request) -> Response:
    if not await database_ready():
        return JSONResponse({"status": "error"}, status_code=503)
    return JSONResponse({"status": "ok"})


routes = [
    Route("/auth/login", _endpoint(login), methods=["POST"]),
    Route("/auth/refresh", _endpoint(refresh), methods=["POST"]),
    Route("/auth/logout", _endpoint(logout), methods=["POST"]),
    Route("/auth/password/request", _endpoint(password_request), methods=["POST"]),
    Route("/auth/password/reset", _endpoint(password_reset), methods=["POST"]),
    Route("/auth", _endpoint(providers), methods=["GET"]),
    Route("/auth/oauth", _endpoint(providers_legacy), methods=["GET"]),
    Route("/.well-known/jwks.json", _endpoint(jwks), methods=["GET"]),
    Route("/health", health, methods=["GET"]),
]
