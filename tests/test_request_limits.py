from __future__ import annotations

import asyncio
import time

import pytest

from tests.conftest import Api, codes, flush_redis_db, make_settings, redis_command, redis_up, running_app

# A loose bound, a sanity check on a possibly busy machine: the documents these tests send
# took seconds before the caps (the fragment bomb 7.8 s) and take milliseconds now.
QUICK = 3.0


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
    deep = "{ " + "a { " * 11 + "b" + " }" * 12
    assert codes(await api.gql(deep)) == ["QUERY_TOO_COMPLEX"]
    # Through fragments too, each one level deeper than the last.
    chain = "query { ...F0 } " + " ".join(f"fragment F{i} on Query {{ a {{ ...F{i + 1} }} }}" for i in range(11))
    assert codes(await api.gql(chain + " fragment F11 on Query { b }")) == ["QUERY_TOO_COMPLEX"]


async def test_the_depth_limit_counts_real_fields(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(GRAPHQL_MAX_DEPTH="3") as api:
        # Three levels run (and are refused for want of a session); four do not.
        assert codes(await api.gql("{ users_me_sessions { pageInfo { hasNextPage } } }")) == ["FORBIDDEN"]
        assert codes(await api.gql("{ users_me_sessions { edges { node { id } } } }")) == ["QUERY_TOO_COMPLEX"]


def _doubling(levels: int, leaf: str = "__typename", top: str = "query") -> str:
    """`levels` fragments, each spreading the next twice: 866 bytes at 21 levels, two
    million leaves once expanded."""
    fragments = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels))
    return f"{top} {{ ...F0 }} {fragments} fragment F{levels} on Query {{ {leaf} }}"


async def test_a_fragment_bomb_is_refused_at_once_and_health_still_answers(api: Api) -> None:
    bomb = _doubling(21)
    assert len(bomb) < 1000
    started = time.perf_counter()
    request = asyncio.create_task(api.gql(bomb))
    await asyncio.sleep(0)
    health = await api.http.get("/health")
    # A loose bound, a sanity check: before the caps this took 7.8 s, /health waiting.
    assert health.status_code == 200 and time.perf_counter() - started < QUICK
    assert codes(await request) == ["QUERY_TOO_COMPLEX"]
    assert time.perf_counter() - started < QUICK


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(_doubling(21, leaf="a: __typename"), id="aliases through doubling fragments"),
        pytest.param(_doubling(21, top="mutation", leaf="__typename"), id="mutation"),
        # Few enough to pass the old alias and depth rules, but thousands of selections.
        pytest.param(_doubling(12), id="selections"),
        pytest.param("{ users_me { " + " ".join(["...U"] * 101) + " } } fragment U on User { id }", id="wide spreads"),
        pytest.param("{ " + "__typename " * 2001 + "}", id="tokens"),
        # The parser stops at the cap: a megabyte costs what 2000 tokens do.
        pytest.param("{ " + "__typename " * 100_000 + "}", id="a megabyte"),
    ],
)
async def test_documents_beyond_the_caps_are_too_complex(api: Api, document: str) -> None:
    started = time.perf_counter()
    result = await api.gql(document)
    assert codes(result) and set(codes(result)) == {"QUERY_TOO_COMPLEX"}, result
    assert time.perf_counter() - started < QUICK


async def test_fragment_cycles_are_refused_quickly(api: Api) -> None:
    levels = 21
    fragments = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels))
    cycle = f"query {{ ...F0 }} {fragments} fragment F{levels} on Query {{ ...F0 __typename }}"
    started = time.perf_counter()
    assert set(codes(await api.gql(cycle))) <= {"QUERY_TOO_COMPLEX", "GRAPHQL_VALIDATION"}
    assert codes(await api.gql("query { ...A } fragment A on Query { ...B ...B } fragment B on Query { ...A ...A }"))
    assert time.perf_counter() - started < QUICK


async def test_documents_within_the_caps_still_answer(api: Api) -> None:
    # Hundreds of same-named fields take graphql-core a while (it compares them
    # pairwise); the answer comes, and /health meanwhile.
    near = "{ " + "__typename " * 600 + "}"
    request = asyncio.create_task(api.gql(near))
    await asyncio.sleep(0)
    assert (await api.http.get("/health")).status_code == 200
    assert (await request) == {"data": {"__typename": "Query"}}
    spreads = "{ users_me { " + " ".join(["...U"] * 100) + " } } fragment U on User { id }"
    assert (await api.gql(spreads)) == {"data": {"users_me": None}}


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


PRODUCTION = {"ENV": "production", "SECRET": "s" * 40, "PUBLIC_URL": "https://auth.example.com"}


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("{ users_mee { id } }", {}),
        ("{ users_me { emial } }", {}),
        ("mutation { auth_logout(mdoe: json) }", {}),
        ("mutation { auth_logout(mode: jsn) }", {}),
        ("mutation($m: auth_mod) { auth_logout(mode: $m) }", {}),
        ("mutation($m: auth_mode) { auth_logout(mode: $m) }", {"m": "jsn"}),
        ("{ users(filter: {rol: admin}) { totalCount } }", {}),
    ],
)
async def test_production_answers_do_not_suggest_names(query: str, variables: dict[str, str]) -> None:
    async with running_app(make_settings()) as api:
        development = await api.gql(query, variables)
    assert "Did you mean" in str(development), development
    async with running_app(make_settings(**PRODUCTION)) as api:
        production = await api.gql(query, variables)
    assert codes(production) and set(codes(production)) == {"GRAPHQL_VALIDATION"}
    assert "Did you mean" not in str(production), production


@pytest.mark.skipif(not redis_up(), reason="needs Redis on 127.0.0.1:6379")
async def test_rate_limits_can_live_in_redis(app_with) -> None:  # type: ignore[no-untyped-def]
    await flush_redis_db(9)
    environ = {"RATE_LIMITER_STORE": "redis", "RATE_LIMITER_REDIS": "redis://127.0.0.1:6379/9"}
    async with app_with(rate_limiter_enabled=True, RATE_LIMITER_POINTS=2, RATE_LIMITER_DURATION=60, **environ) as api:
        statuses = [(await api.http.post("/auth/login", json={})).status_code for _ in range(3)]
        assert statuses == [400, 400, 429]


@pytest.mark.skipif(not redis_up(), reason="needs Redis on 127.0.0.1:6379")
async def test_the_redis_connections_are_given_back_at_shutdown(app_with) -> None:  # type: ignore[no-untyped-def]
    async def clients_on_db_11() -> int:
        listing = (await redis_command("CLIENT", "LIST")).decode()
        return sum(1 for line in listing.splitlines() if " db=11 " in line)

    await flush_redis_db(11)
    before = await clients_on_db_11()
    environ = {"RATE_LIMITER_STORE": "redis", "RATE_LIMITER_REDIS": "redis://127.0.0.1:6379/11"}
    async with app_with(rate_limiter_enabled=True, **environ) as api:
        assert (await api.http.post("/auth/login", json={})).status_code == 400
        assert await clients_on_db_11() > before  # the counters are in Redis
    assert await clients_on_db_11() == before
