from __future__ import annotations

import asyncio

import pytest

from tests.conftest import Api, codes


async def test_alias_batching_of_logins_is_refused(api: Api) -> None:
    await api.signup()
    guesses = " ".join(
        f'g{i}: auth_login(email: "ana@example.com", password: "guess{i:04d}") {{ access_token }}' for i in range(5)
    )
    result = await api.gql(f"mutation {{ {guesses} }}")
    assert codes(result) == ["QUERY_TOO_COMPLEX"]
    assert result.get("data") is None


async def test_batching_through_fragments_is_refused_too(api: Api) -> None:
    query = """
    mutation { ...A ...B }
    fragment A on Mutation { a: auth_login(email: "a@example.com", password: "12345678") { expires } }
    fragment B on Mutation { b: signinUser(email: {email: "a@example.com", password: "12345678"}) { token } }
    """
    assert codes(await api.gql(query)) == ["QUERY_TOO_COMPLEX"]


async def test_one_credential_mutation_per_request_is_fine(api: Api) -> None:
    await api.signup()
    query = 'mutation { auth_login(email: "ana@example.com", password: "correct horse battery") { expires } }'
    assert (await api.gql(query))["data"]["auth_login"]["expires"] == "900000"


async def test_too_many_aliases_are_refused(api: Api) -> None:
    fields = " ".join(f"a{i}: __typename" for i in range(31))
    assert codes(await api.gql(f"{{ {fields} }}")) == ["QUERY_TOO_COMPLEX"]
    fields = " ".join(f"a{i}: __typename" for i in range(30))
    assert "errors" not in await api.gql(f"{{ {fields} }}")


async def test_deep_queries_are_refused(api: Api) -> None:
    deep = "{ __schema { types { fields { type { " + "ofType { " * 6 + "name" + " }" * 10 + " }"
    assert codes(await api.gql(deep)) == ["QUERY_TOO_COMPLEX"]


async def test_recursive_fragments_do_not_hang(api: Api) -> None:
    query = "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }"
    assert codes(await api.gql(query)) == ["GRAPHQL_VALIDATION"]


async def test_unparseable_documents_are_graphql_validation(api: Api) -> None:
    assert codes(await api.gql("mutation {")) == ["GRAPHQL_VALIDATION"]
    assert codes(await api.gql("{ no_such_field }")) == ["GRAPHQL_VALIDATION"]


async def test_rate_limit_answers_requests_exceeded(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(rate_limiter_enabled=True, RATE_LIMITER_POINTS=3, RATE_LIMITER_DURATION=60) as api:
        statuses = [(await api.http.post("/auth/login", json={})).status_code for _ in range(4)]
        assert statuses == [400, 400, 400, 429]
        limited = await api.http.post("/auth/login", json={})
        body = limited.json()["errors"][0]
        assert body["extensions"]["code"] == "REQUESTS_EXCEEDED" and body["extensions"]["retry_after"] >= 1
        assert int(limited.headers["retry-after"]) >= 1
        assert (await api.http.get("/health")).status_code == 200


async def test_graphiql_and_introspection_can_be_switched_off(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(GRAPHIQL="false", GRAPHQL_INTROSPECTION="false") as api:
        page = await api.http.get("/graphql", headers={"accept": "text/html"})
        assert "graphiql" not in page.text.lower()
        assert set(codes(await api.gql("{ __schema { types { name } } }"))) == {"GRAPHQL_VALIDATION"}
        assert (await api.gql("{ __typename }")) == {"data": {"__typename": "Query"}}


def _redis_up() -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_up(), reason="needs Redis on 127.0.0.1:6379")
async def test_rate_limits_can_live_in_redis(app_with) -> None:  # type: ignore[no-untyped-def]
    # Database 9, emptied first (SELECT 9, FLUSHDB in RESP): counts from earlier runs
    # must not leak in.
    reader, writer = await asyncio.open_connection("127.0.0.1", 6379)
    writer.write(b"*2\r\n$6\r\nSELECT\r\n$1\r\n9\r\n*1\r\n$7\r\nFLUSHDB\r\n")
    assert [await reader.readline(), await reader.readline()] == [b"+OK\r\n", b"+OK\r\n"]
    writer.close()
    await writer.wait_closed()
    environ = {"RATE_LIMITER_STORE": "redis", "RATE_LIMITER_REDIS": "redis://127.0.0.1:6379/9"}
    async with app_with(rate_limiter_enabled=True, RATE_LIMITER_POINTS=2, RATE_LIMITER_DURATION=60, **environ) as api:
        statuses = [(await api.http.post("/auth/login", json={})).status_code for _ in range(3)]
        assert statuses == [400, 400, 429]
