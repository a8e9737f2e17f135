"""The caller is resolved once, at the edge, for every route family: the same credential
is the same user on GraphQL, Relay, the REST twins, the OAuth routes and the pages, and a
revoked one is EVERYONE on each."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from app.auth.viewer import EVERYONE, Viewer
from tests.conftest import BASE_URL, Api, codes

ME = "{ users_me { id } }"
RELAY_VIEWER = "{ viewer { user { id } } }"


class Seen:
    """The app as the server runs it; keeps each request's `scope["user"]`, which is what
    the route's handler read as `request.user`."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.users: list[Any] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)
        if scope["type"] == "http":
            self.users.append(scope.get("user"))


@asynccontextmanager
async def watched(api: Api) -> AsyncIterator[tuple[httpx.AsyncClient, Seen]]:
    seen = Seen(api.app)
    transport = httpx.ASGITransport(app=seen, client=("127.0.0.1", 40002))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client, seen


async def one_request_per_family(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    """GraphQL, Relay, a REST twin, an OAuth route and a page, with the same credential."""
    answers: dict[str, Any] = {}
    answers["graphql"] = (await client.post("/graphql", json={"query": ME}, headers=headers)).json()
    answers["relay"] = (await client.post("/graphql/relay", json={"query": RELAY_VIEWER}, headers=headers)).json()
    rest = await client.post("/auth/password/request", json={"email": "nobody@example.com"}, headers=headers)
    assert rest.status_code == 204
    oauth = await client.get("/auth/login/nope", headers=headers)
    assert oauth.status_code == 400
    page = await client.get("/auth/pages/reset-password", params={"token": "x"}, headers=headers)
    assert page.status_code == 200
    return answers


async def test_the_same_bearer_is_the_same_user_on_every_route_family(api: Api) -> None:
    user = await api.signup()
    tokens = await api.login()
    async with watched(api) as (client, seen):
        answers = await one_request_per_family(client, {"Authorization": f"Bearer {tokens['access_token']}"})
    assert answers["graphql"]["data"]["users_me"]["id"] == user["id"]
    assert answers["relay"]["data"]["viewer"]["user"]["id"] == user["id"]
    assert len(seen.users) == 5
    for viewer in seen.users:
        assert isinstance(viewer, Viewer)
        assert viewer.user is not None and viewer.session_id is not None
        assert viewer.user.email == "ana@example.com"
    assert len({v.session_id for v in seen.users}) == 1


async def test_a_revoked_session_is_everyone_on_every_route_family(api: Api) -> None:
    await api.signup()
    tokens = await api.login()
    logout = await api.http.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert logout.status_code == 204
    async with watched(api) as (client, seen):
        answers = await one_request_per_family(client, {"Authorization": f"Bearer {tokens['access_token']}"})
    assert answers["graphql"]["data"] == {"users_me": None}
    assert codes(answers["graphql"]) == ["INVALID_TOKEN"]
    assert answers["relay"]["data"]["viewer"]["user"] is None
    assert codes(answers["relay"]) == ["INVALID_TOKEN"]
    assert len(seen.users) == 5
    assert all(v.user is None and v.token_error == "INVALID_TOKEN" for v in seen.users)


async def test_no_credential_is_everyone_without_an_error(api: Api) -> None:
    async with watched(api) as (client, seen):
        answers = await one_request_per_family(client, {})
    assert answers["graphql"] == {"data": {"users_me": None}}
    assert all(v is EVERYONE for v in seen.users)


async def test_the_session_cookie_is_the_same_user_on_graphql_and_rest(api: Api) -> None:
    user = await api.signup()
    login = await api.gql(
        "mutation($e: String!, $p: String!) { auth_login(email: $e, password: $p, mode: session) { expires } }",
        {"e": "ana@example.com", "p": "correct horse battery"},
    )
    assert login.get("errors") is None
    async with watched(api) as (client, seen):
        client.cookies.set("session_token", api.http.cookies["session_token"])
        graphql = (await client.post("/graphql", json={"query": ME})).json()
        rest = await client.post("/auth/password/request", json={"email": "nobody@example.com"})
        # A simple form post carries the cookie too, and is not signed in by it.
        form = await client.post("/auth/password/request", data={"email": "nobody@example.com"})
    assert graphql["data"]["users_me"]["id"] == user["id"]
    assert rest.status_code == 204 and form.status_code == 400
    graphql_viewer, rest_viewer, form_viewer = seen.users
    assert graphql_viewer.session_id == rest_viewer.session_id is not None
    assert form_viewer is EVERYONE
