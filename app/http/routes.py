"""Directus's REST twins under /auth and the JWKS (health routes: app/http/health.py). Failures
are raised and answered by app/http/failures.py."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.config import Settings
from app.http.caller import client_of
from app.http.delivery import Mode, clear_session_cookies, deliver, presented_refresh_token, set_cookies
from app.http.responses import NO_STORE, field, json_body
from app.services.container import Services
from app.services.sessions import IssuedTokens


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _tokens(issued: IssuedTokens, mode: Mode, settings: Settings, presented_in: Mode | None = None) -> Response:
    body, jar = deliver(issued, mode, settings, presented_in=presented_in)
    response = JSONResponse({"data": body.as_json()}, headers=NO_STORE)
    set_cookies(response, jar)
    return response


async def login(request: Request) -> Response:
    services = _services(request)
    body = await json_body(request)
    mode = Mode.named(field(body, "mode", required=False))
    payload = {"email": field(body, "email") or "", "password": field(body, "password") or ""}
    issued = await services.auth.login("email", payload, client_of(request), otp=field(body, "otp", required=False))
    return _tokens(issued, mode, services.settings)


async def refresh(request: Request) -> Response:
    services = _services(request)
    body = await json_body(request)
    mode = Mode.named(field(body, "mode", required=False))
    presented = presented_refresh_token(request, services.settings, mode, field(body, "refresh_token", required=False))
    issued = await services.auth.refresh(presented.token)
    return _tokens(issued, mode, services.settings, presented.cookie)


async def logout(request: Request) -> Response:
    services = _services(request)
    body = await json_body(request)
    mode = Mode.named(field(body, "mode", required=False))
    presented = presented_refresh_token(request, services.settings, mode, field(body, "refresh_token", required=False))
    await services.auth.logout(presented.token)
    response = Response(status_code=204)
    clear_session_cookies(response, services.settings)
    return response


async def password_request(request: Request) -> Response:
    services = _services(request)
    body = await json_body(request)
    await services.users.request_password_reset(field(body, "email") or "", field(body, "reset_url", required=False))
    return Response(status_code=204)


async def password_reset(request: Request) -> Response:
    services = _services(request)
    body = await json_body(request)
    await services.users.reset_password(field(body, "token") or "", field(body, "password") or "")
    return Response(status_code=204)


async def providers(request: Request) -> Response:
    services = _services(request)
    data = [{"name": p.name, "driver": p.driver, "icon": p.icon} for p in services.settings.social_providers]
    return JSONResponse({"data": data, "disableDefault": services.settings.auth_disable_default})


async def providers_legacy(request: Request) -> Response:
    services = _services(request)
    return JSONResponse({"data": [p.name for p in services.settings.social_providers]})


async def jwks(request: Request) -> Response:
    services = _services(request)
    return JSONResponse(services.access_tokens.jwks(), headers={"Cache-Control": "public, max-age=300"})


routes = [
    Route("/auth/login", login, methods=["POST"]),
    Route("/auth/refresh", refresh, methods=["POST"]),
    Route("/auth/logout", logout, methods=["POST"]),
    Route("/auth/password/request", password_request, methods=["POST"]),
    Route("/auth/password/reset", password_reset, methods=["POST"]),
    Route("/auth", providers, methods=["GET"]),
    Route("/auth/oauth", providers_legacy, methods=["GET"]),
    Route("/.well-known/jwks.json", jwks, methods=["GET"]),
]
