"""Malformed and unreasonable requests get the contract's answer (section 8), never a 500."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import Api, codes

GRAPHQL = ("/graphql", "/graphql/relay")
REST = ("/auth/login", "/auth/refresh", "/auth/logout", "/auth/password/request", "/auth/password/reset")
DEEP = "[" * 1000 + "]" * 1000
TYPENAME = "{ __typename }"


async def _post(api: Api, path: str, body: bytes | str, content_type: str = "application/json") -> httpx.Response:
    content = body.encode() if isinstance(body, str) else body
    return await api.http.post(path, content=content, headers={"content-type": content_type})


def _error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == [code]


@pytest.mark.parametrize("path", GRAPHQL)
@pytest.mark.parametrize(
    "body",
    [b"not json", b"\xff\xfe{", b'{"query": "{ __typename }", "x": "\xff"}', b'{"query": "{ __typename }", "n": NaN}'],
    ids=["not-json", "utf16-garbage", "not-utf8", "nan"],
)
async def test_a_body_that_is_not_json_is_invalid_payload(api: Api, path: str, body: bytes) -> None:
    _error(await _post(api, path, body), 400, "INVALID_PAYLOAD")


@pytest.mark.parametrize("path", GRAPHQL)
@pytest.mark.parametrize("body", ["null", "5", '"{ __typename }"', "true", "[]"])
async def test_json_that_is_not_a_request_object_is_graphql_validation(api: Api, path: str, body: str) -> None:
    _error(await _post(api, path, body), 400, "GRAPHQL_VALIDATION")


@pytest.mark.parametrize("path", GRAPHQL)
async def test_request_members_of_the_wrong_type_are_graphql_validation(api: Api, path: str) -> None:
    _error(await _post(api, path, json.dumps({"query": 5})), 400, "GRAPHQL_VALIDATION")
    _error(await _post(api, path, json.dumps({"query": TYPENAME, "variables": [1]})), 400, "GRAPHQL_VALIDATION")


@pytest.mark.parametrize("path", GRAPHQL)
async def test_a_form_body_is_invalid_payload(api: Api, path: str) -> None:
    _error(
        await _post(api, path, "query=%7B__typename%7D", "application/x-www-form-urlencoded"), 400, "INVALID_PAYLOAD"
    )


@pytest.mark.parametrize("path", GRAPHQL + REST)
async def test_deep_json_is_invalid_payload(api: Api, path: str) -> None:
    _error(await _post(api, path, DEEP), 400, "INVALID_PAYLOAD")
    # Deep enough to pass json.loads, too deep to hand on.
    nested = "[" * 200 + "]" * 200
    _error(await _post(api, path, f'{{"query": "{TYPENAME}", "variables": {{"a": {nested}}}}}'), 400, "INVALID_PAYLOAD")


@pytest.mark.parametrize("path", GRAPHQL)
async def test_deep_variables_are_invalid_payload(api: Api, path: str) -> None:
    body = f'{{"query": "{TYPENAME}", "variables": {{"a": {DEEP}}}}}'
    _error(await _post(api, path, body), 400, "INVALID_PAYLOAD")


async def test_get_variables_go_through_the_same_parser(api: Api) -> None:
    for variables in (DEEP, "1" * 5000, "{"):
        response = await api.http.get("/graphql", params={"query": TYPENAME, "variables": variables})
        _error(response, 400, "INVALID_PAYLOAD")
    _error(await api.http.get("/graphql", params={"query": "mutation { auth_logout }"}), 400, "GRAPHQL_VALIDATION")
    ok = await api.http.get("/graphql", params={"query": TYPENAME, "variables": '{"a": [1, {"b": 2}]}'})
    assert ok.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("path", GRAPHQL + REST)
async def test_huge_numbers_are_invalid_payload(api: Api, path: str) -> None:
    for number in ("1" * 5000, "1." + "1" * 5000, "1e" + "9" * 200):
        body = f'{{"query": "{TYPENAME}", "variables": {{"a": {number}}}, "email": {number}}}'
        _error(await _post(api, path, body), 400, "INVALID_PAYLOAD")


@pytest.mark.parametrize("path", GRAPHQL + REST)
async def test_lone_surrogates_are_invalid_payload(api: Api, path: str) -> None:
    body = '{"query": "{ __typename }", "email": "\\ud800@example.com", "variables": {"a": "\\udfff"}}'
    _error(await _post(api, path, body), 400, "INVALID_PAYLOAD")
    # A pair is one character, and welcome.
    paired = '{"query": "{ __typename }", "variables": {"a": "\\ud83d\\ude00"}}'
    assert (await _post(api, "/graphql", paired)).json() == {"data": {"__typename": "Query"}}


async def test_reasonable_nesting_and_numbers_still_work(api: Api) -> None:
    nested: Any = 1
    for _ in range(14):  # 30 levels with the body's own two
        nested = {"a": [nested]}
    body = json.dumps({"query": TYPENAME, "variables": {"n": nested, "big": 2**63, "f": 1.5e300}})
    assert (await _post(api, "/graphql", body)).json() == {"data": {"__typename": "Query"}}


async def _chunks(size: int) -> AsyncIterator[bytes]:
    for _ in range(size // 100_000):
        yield b"x" * 100_000


@pytest.mark.parametrize("path", (*GRAPHQL, *REST, "/auth/pages/magic-link", "/auth/pages/reset-password"))
async def test_a_chunked_body_over_the_limit_is_413_on_every_route(api: Api, path: str) -> None:
    response = await api.http.post(path, content=_chunks(3_000_000), headers={"content-type": "application/json"})
    _error(response, 413, "INVALID_PAYLOAD")


async def test_a_chunked_body_under_the_limit_is_read(api: Api) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b'{"email": "a@example.com", '
        yield b'"password": "wrong password"}'

    response = await api.http.post("/auth/login", content=body(), headers={"content-type": "application/json"})
    _error(response, 401, "INVALID_CREDENTIALS")


async def test_a_naive_expires_at_is_read_as_utc(api: Api) -> None:
    await api.signup()
    token = (await api.login())["access_token"]
    create = 'mutation($at: DateTime) { api_tokens_create(name: "ci", expires_at: $at) { id } }'
    result = await api.gql(create, {"at": "2999-01-01T00:00:00"}, token=token)
    assert result.get("errors") is None, result
    listed = await api.gql("{ api_tokens { edges { node { expires_at } } } }", token=token)
    assert listed["data"]["api_tokens"]["edges"][0]["node"]["expires_at"].startswith("2999-01-01T00:00:00")
    # Naive and in the past is still in the past.
    assert codes(await api.gql(create, {"at": "2000-01-01T00:00:00"}, token=token)) == ["INVALID_PAYLOAD"]
    # A moment that cannot be moved to UTC is a bad value, not a crash.
    assert codes(await api.gql(create, {"at": "9999-12-31T23:59:59-14:00"}, token=token)) == ["GRAPHQL_VALIDATION"]
    assert codes(await api.gql(create, {"at": "0001-01-01T00:00:00+14:00"}, token=token)) == ["GRAPHQL_VALIDATION"]


async def test_nul_characters_are_invalid_payload_before_reaching_the_database(api: Api) -> None:
    # PostgreSQL text cannot hold NUL: it was a SERVICE_UNAVAILABLE there, after a write began.
    create = (
        "mutation($name: String) { createUser(authProvider: {email: {email: $e, password: $p}}, name: $name) { id } }"
    )
    create = create.replace("mutation($name: String)", "mutation($name: String, $e: String!, $p: String!)")
    password = "correct horse battery"
    for path in GRAPHQL:
        variables = {"name": "a\x00b", "e": "nul@example.com", "p": password}
        response = await api.http.post(path, json={"query": create, "variables": variables})
        _error(response, 400, "INVALID_PAYLOAD")
        for literal in ("a\\u0000b", "a\\u{0}b", "a\\u{000000}b"):
            query = 'mutation { auth_password_request(email: "' + literal + '@example.com") }'
            _error(await api.http.post(path, json={"query": query}), 400, "INVALID_PAYLOAD")
    _error(await api.http.get("/graphql", params={"query": '{ node(id: "\\u0000") { id } }'}), 400, "INVALID_PAYLOAD")
    for path in REST:
        _error(await api.http.post(path, json={"email": "a\x00@example.com", "token": "x"}), 400, "INVALID_PAYLOAD")
    assert codes(await api.gql(create, {"name": "a\\u0000b", "e": "ok@example.com", "p": password})) == []


async def test_a_body_that_stalls_is_answered_408_and_never_reaches_the_app() -> None:
    import asyncio

    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from app.http.middleware import BodyLimit

    reached = []

    async def handler(request: Any) -> PlainTextResponse:
        reached.append(await request.body())
        return PlainTextResponse("read")

    guarded = BodyLimit(Starlette(routes=[Route("/", handler, methods=["POST"])]), timeout=0.3)

    async def trickle() -> AsyncIterator[bytes]:
        yield b'{"email": '
        await asyncio.sleep(5)  # a client that sent the headers and stopped
        yield b"}"

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guarded), base_url="http://test") as client:
        stalled = await asyncio.wait_for(client.post("/", content=trickle()), timeout=3)
        _error(stalled, 408, "INVALID_PAYLOAD")
        assert stalled.headers["connection"] == "close" and reached == []
        # A body that arrives in time is replayed to the app whole.
        assert (await client.post("/", content=b"whole")).text == "read" and reached == [b"whole"]
