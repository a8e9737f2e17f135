"""GET /metrics (METRICS_ENABLED=true): Prometheus text whose counts follow what happened,
with labels that a client cannot choose."""

from __future__ import annotations

import uuid
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import LOGIN, ON_POSTGRES, Api, codes

SIGNIN_OIDC = """
mutation($provider: String!) { signinUser(oidc: {provider: $provider, idToken: "x.y.z"}) { token } }"""
REFRESH = "mutation($t: String!) { auth_refresh(refresh_token: $t) { refresh_token } }"


class Scrape:
    def __init__(self, text: str) -> None:
        self.text = text
        self.samples = [s for family in text_string_to_metric_families(text) for s in family.samples]

    def value(self, name: str, **labels: str) -> float:
        """The sum of `name`'s samples whose labels include `labels`."""
        return sum(
            s.value for s in self.samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        )


async def scrape(api: Api) -> Scrape:
    answer = await api.http.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return Scrape(answer.text)


async def test_metrics_are_off_by_default(api: Api) -> None:
    assert (await api.http.get("/metrics")).status_code == 404


async def test_sign_ins_refreshes_and_reuse_are_counted(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(METRICS_ENABLED="true", REFRESH_TOKEN_REUSE_INTERVAL="0") as api:
        await api.signup()
        before = await scrape(api)
        first = await api.login()
        wrong = await api.http.post("/auth/login", json={"email": "ana@example.com", "password": "not the one"})
        assert wrong.status_code == 401
        rotated = await api.gql(REFRESH, {"t": first["refresh_token"]})
        assert "errors" not in rotated, rotated
        reused = await api.gql(REFRESH, {"t": first["refresh_token"]})
        assert codes(reused) == ["INVALID_TOKEN"]
        after = await scrape(api)

    def moved(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert moved("auth_sign_ins_total", provider="email", outcome="success") == 1
    assert moved("auth_sign_ins_total", provider="email", outcome="INVALID_CREDENTIALS") == 1
    assert moved("auth_refreshes_total", outcome="success") == 1
    assert moved("auth_refreshes_total", outcome="INVALID_TOKEN") == 1
    assert moved("auth_refresh_token_reuse_total") == 1
    # Requests by route template and GraphQL operations by root field.
    assert moved("http_requests_total", method="POST", route="/auth/login", status="401") == 1
    assert moved("http_requests_total", method="POST", route="/graphql", status="200") == 3
    assert moved("http_request_duration_seconds_count", method="POST", route="/graphql") == 3
    assert moved("graphql_operations_total", type="mutation", operation="auth_login", outcome="ok") == 1
    assert moved("graphql_operations_total", type="mutation", operation="auth_refresh", outcome="error") == 1
    assert moved("graphql_operation_duration_seconds_count", type="mutation", operation="auth_refresh") == 2
    # Three password checks (sign-up's hash was before): each waited for the pool.
    assert moved("password_hash_wait_seconds_count") >= 2
    assert after.value("password_hash_queue_depth") == 0


async def test_labels_never_come_from_the_client(app_with) -> None:  # type: ignore[no-untyped-def]
    chosen = f"client{uuid.uuid4().hex[:12]}"
    async with app_with(METRICS_ENABLED="true") as api:
        before = await scrape(api)
        # A provider name, an operation name, a path parameter and a root field of the client's.
        assert codes(await api.gql(SIGNIN_OIDC, {"provider": chosen})) == ["INVALID_PROVIDER"]
        named = await api.http.post(
            "/graphql",
            json={"query": f'mutation {chosen} {{ auth_logout(refresh_token: "x") }}', "operationName": chosen},
        )
        assert named.status_code == 200
        await api.http.get(f"/auth/login/{chosen}")
        await api.http.get(f"/{chosen}/page")
        await api.gql(f"{{ {chosen} }}")
        await api.gql(f"{{ users_me {{ id }} {chosen}: users_me {{ id }} }}")
        after = await scrape(api)
    assert chosen not in after.text

    def moved(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert moved("auth_sign_ins_total", provider="other", outcome="INVALID_PROVIDER") == 1
    assert moved("graphql_operations_total", operation="auth_logout") == 1
    assert moved("http_requests_total", route="/auth/login/{provider}") == 1
    assert moved("http_requests_total", route="unmatched", status="404") == 1
    assert moved("graphql_operations_total", type="query", operation="other", outcome="error") == 1
    assert moved("graphql_operations_total", type="query", operation="users_me") == 1


async def test_refusals_are_counted_by_limit(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(
        METRICS_ENABLED="true", LOGIN_ATTEMPTS_PER_ACCOUNT="2", rate_limiter_enabled=True, RATE_LIMITER_POINTS="30"
    ) as api:
        await api.signup()
        before = await scrape(api)
        results = [await api.gql(LOGIN, {"email": "ana@example.com", "password": f"guess {i}"}) for i in range(3)]
        assert [codes(r) for r in results] == [["INVALID_CREDENTIALS"]] * 2 + [["REQUESTS_EXCEEDED"]]
        statuses = [(await api.http.post("/auth/login", json={})).status_code for _ in range(30)]
        assert 429 in statuses
        # Scrapes are never refused, however many.
        assert {(await api.http.get("/metrics")).status_code for _ in range(40)} == {200}
        after = await scrape(api)

    def moved(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert moved("rate_limit_refusals_total", limit="login") == 1
    assert moved("auth_sign_ins_total", provider="email", outcome="REQUESTS_EXCEEDED") == 1
    assert moved("rate_limit_refusals_total", limit="ip") == statuses.count(429)
    assert moved("http_requests_total", route="/auth/login", status="429") == statuses.count(429)


async def test_the_database_pool_is_reported_on_postgres(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(METRICS_ENABLED="true") as api:
        await api.http.get("/health")
        after = await scrape(api)
    if ON_POSTGRES:
        assert after.value("db_pool_connections", state="size") >= 1
        assert after.value("db_pool_connections", state="max") >= after.value("db_pool_connections", state="size")
    else:
        # SQLite has no pool: nothing is made up.
        assert not [s for s in after.samples if s.name == "db_pool_connections"]


def _family_names(text: str) -> set[str]:
    return {family.name for family in text_string_to_metric_families(text)}


async def test_every_metric_is_exposed(app_with) -> None:  # type: ignore[no-untyped-def]
    expected: set[Any] = {
        "http_requests",
        "http_request_duration_seconds",
        "graphql_operations",
        "graphql_operation_duration_seconds",
        "auth_sign_ins",
        "auth_refreshes",
        "auth_refresh_token_reuse",
        "rate_limit_refusals",
        "password_hash_queue_depth",
        "password_hash_wait_seconds",
        "db_pool_connections",
    }
    async with app_with(METRICS_ENABLED="true") as api:
        text = (await api.http.get("/metrics")).text
    assert expected <= _family_names(text)
