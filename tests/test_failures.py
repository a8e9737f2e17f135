"""Failures are answered in one place per transport (app/http/failures.py): JSON for REST
and for GraphQL requests that never run, a page or a redirect for pages and OAuth routes."""

from __future__ import annotations

import logging
import uuid

import httpx
import pytest
from asyncpg.exceptions import ConnectionDoesNotExistError, InterfaceError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.errors import Forbidden
from app.main import create_app
from tests.conftest import BASE_URL, Api, codes, make_settings


async def whoami(request: Request) -> Response:
    if not request.user.is_authenticated:
        raise Forbidden()
    return JSONResponse({"email": request.user.user.email})


async def broken(request: Request) -> Response:
    raise RuntimeError("hunter2 leaked into a bug")


async def test_an_embedding_applications_route_gets_the_caller_and_the_error_answers(api: Api) -> None:
    api.app.router.routes.append(Route("/whoami", whoami))
    anonymous = await api.http.get("/whoami")
    assert anonymous.status_code == 403
    assert anonymous.json()["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
    await api.signup()
    token = (await api.login())["access_token"]
    mine = await api.http.get("/whoami", headers={"Authorization": f"Bearer {token}"})
    assert mine.status_code == 200 and mine.json() == {"email": "ana@example.com"}


async def rollback_after_the_connection_dropped(request: Request) -> Response:
    # What asyncpg raises when a transaction's connection drops mid-statement: the
    # rollback fails too, and its error is the one that leaves the `async with`.
    try:
        raise ConnectionDoesNotExistError("connection was closed in the middle of operation")
    except ConnectionDoesNotExistError:
        raise InterfaceError("cannot call Transaction.rollback(): the underlying connection is closed") from None


async def test_a_rollback_failing_after_a_dropped_connection_is_503(api: Api) -> None:
    api.app.router.routes.append(Route("/dropped", rollback_after_the_connection_dropped))
    response = await api.http.get("/dropped")
    assert (response.status_code, response.json()["errors"][0]["extensions"]) == (503, {"code": "SERVICE_UNAVAILABLE"})


async def test_a_bug_is_internal_server_error_and_logged(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    api.app.router.routes.append(Route("/broken", broken))
    # Starlette re-raises a bug after answering it, for the server to log; a server answers.
    transport = httpx.ASGITransport(app=api.app, raise_app_exceptions=False)
    with caplog.at_level(logging.ERROR):
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            response = await client.get("/broken")
    assert response.status_code == 500
    assert response.json() == {
        "errors": [{"message": "An unexpected error occurred.", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]
    }
    assert "hunter2" in caplog.text and "hunter2" not in response.text


async def test_an_unreachable_database_with_a_credential_is_503_not_a_crash() -> None:
    # Nothing listens on port 1: connections are refused at once.
    app = create_app(make_settings(database_url="postgres://postgres@127.0.0.1:1/test"))
    token, _ = app.state.services.access_tokens.issue(str(uuid.uuid4()), str(uuid.uuid4()), "user")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            graphql = await client.post(
                "/graphql", json={"query": "{ users_me { id } }"}, headers={"Authorization": f"Bearer {token}"}
            )
            assert graphql.status_code == 503
            assert codes(graphql.json()) == ["SERVICE_UNAVAILABLE"]
            rest = await client.post("/auth/logout", json={}, headers={"Authorization": f"Bearer {token}"})
            assert rest.status_code == 503
            assert rest.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
