"""Generated requests: every query and mutation of both schemas, driven from the schemas
themselves (hypothesis-graphql), and random bodies on the REST routes and the pages.

Whoever asks (nobody, a signed-in user, an admin, a bad token), whatever is sent: never a
500, never INTERNAL_SERVER_ERROR (nor SERVICE_UNAVAILABLE: the database is up), and a call
that fails changes no row (the audit trail records failures on purpose and is left out).
Derandomized, so a run is reproducible; bounded, so the file stays well under a minute.
"""

from __future__ import annotations

import string
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import graphql
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema, nodes
from starlette.routing import Route
from tortoise import Tortoise, connections

from app.http.pages import routes as page_routes
from app.models import AuditEvent, Role, Status, User
from app.schema import build_schema
from app.schema.relay import build_relay_schema
from app.services.client import ClientInfo
from tests.conftest import GENERATED_REQUESTS, Api, make_settings, running_app

FUZZ = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
PRINCIPALS = ("nobody", "user", "admin", "bad token")
USER, ADMIN, PASSWORD = "fuzz-user@example.com", "fuzz-admin@example.com", "correct horse battery"

# --- values -------------------------------------------------------------------------------

JWT_LIKE = st.tuples(*[st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=40)] * 3).map(
    ".".join
) | st.just("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.")
URL_LIKE = st.sampled_from(
    [
        "https://evil.example/",
        "http://127.0.0.1:8000/auth/pages/reset-password",
        "javascript:alert(1)",
        "https://app.example.com/\r\nx",
        "//evil.example",
        "https://a@b/",
        "http://[::1]:99999/",
        "https://" + "a" * 5000 + ".example/",
    ]
) | st.builds("https://{}.example/{}?{}".format, st.text(max_size=10), st.text(max_size=10), st.text(max_size=10))
NASTY = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\x00b@example.com",
        "null",
        "-1",
        "1e309",
        "' OR 1=1 --",
        "<script>alert(1)</script>",
        "\u202eevil",
        "sk_" + "a" * 40,
        "+15555550123",
        "ana@example.com",
        USER,
        "2999-01-01T00:00:00",
        "9999-12-31T23:59:59-14:00",
    ]
)
TEXT = st.one_of(st.text(max_size=40), NASTY, JWT_LIKE, URL_LIKE, st.integers(1, 300_000).map(lambda n: "a" * n))
BIG_NUMBER = st.integers(90, 6000).map(lambda n: "9" * n)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


RAW_BODIES = st.one_of(
    st.binary(max_size=200),
    st.sampled_from([40, 200, 1000, 5000]).map(lambda n: _deep(n).encode()),
    st.sampled_from([40, 200, 1000, 5000]).map(lambda n: ('{"variables": {"a": ' + _deep(n) + "}}").encode()),
    BIG_NUMBER.map(lambda n: f'{{"email": {n}, "query": "{{__typename}}", "variables": {{"a": {n}}}}}'.encode()),
    st.sampled_from([b"null", b"[]", b"NaN", b'"x"', b"\xef\xbb\xbf{}", b'{"a": "\\ud800"}', b"{", b"\xff", b"1"]),
)


def _json_node(value: Any) -> graphql.ValueNode:
    if value is None:
        return nodes.Null
    if isinstance(value, bool):
        return nodes.Boolean(value)
    if isinstance(value, int):
        return nodes.Int(value)
    if isinstance(value, float):
        return nodes.Float(value)
    if isinstance(value, str):
        return nodes.String(value)
    if isinstance(value, list):
        return nodes.List([_json_node(v) for v in value])
    fields = [
        graphql.ObjectFieldNode(name=graphql.NameNode(value=f"f{i}"), value=_json_node(v))
        for i, v in enumerate(value.values())
    ]
    return graphql.ObjectValueNode(fields=fields)


SHORT_TEXT = st.one_of(st.text(max_size=30), NASTY, JWT_LIKE, URL_LIKE)
CUSTOM_SCALARS: dict[str, st.SearchStrategy[graphql.ValueNode]] = {
    "DateTime": st.one_of(
        st.datetimes().map(lambda d: d.isoformat()),
        st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
        SHORT_TEXT,
    ).map(nodes.String),
    "GraphQLBigInt": st.one_of(st.integers().map(str), BIG_NUMBER, SHORT_TEXT).map(nodes.String),
    "JSON": JSON_VALUES.map(_json_node),
}

# --- the schemas, from the code ----------------------------------------------------------------

SCHEMAS = {"/graphql": build_schema(make_settings()), "/graphql/relay": build_relay_schema(make_settings())}


def _root_fields() -> list[tuple[str, str, bool]]:
    """(endpoint, root field, whether it has arguments to get wrong)."""
    found = []
    for path, schema in SCHEMAS.items():
        for root in (schema._schema.query_type, schema._schema.mutation_type):
            found += [(path, name, bool(field.args)) for name, field in (root.fields if root else {}).items()]
    return found


ROOT_FIELDS = _root_fields()

# --- the app, its people, and the invariants ---------------------------------------------------


@dataclass
class Fuzz:
    api: Api

    async def headers(self, principal: str) -> dict[str, str]:
        """A fresh bearer token per call: a generated call may have signed the last one out."""
        if principal == "nobody":
            return {}
        if principal == "bad token":
            return {"Authorization": "Bearer not.a.token"}
        email = USER if principal == "user" else ADMIN
        user = await User.get_or_none(email=email)
        if user is None:
            await self.api.signup(email, PASSWORD)
            user = await User.get(email=email)
        role = Role.admin if principal == "admin" else Role.user
        if user.role != role or user.status != Status.active:
            await User.filter(id=user.id).update(role=role, status=Status.active)
            user = await User.get(id=user.id)
        issued = await self.api.services.sessions.open(user, ClientInfo())
        return {"Authorization": f"Bearer {issued.access_token}"}

    async def send(
        self, failed: Callable[[httpx.Response], bool], method: str, url: str, route: str | None = None, **kw: Any
    ) -> None:
        before = await _row_counts()
        response = await self.api.http.request(method, url, **kw)
        GENERATED_REQUESTS[route or url] += 1
        where = f"{method} {url} {kw.get('json') or kw.get('content') or kw.get('data') or ''}"[:2000]
        assert response.status_code < 500, f"{response.status_code} for {where}: {response.text[:500]}"
        for code in ("INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE"):
            assert code not in response.text, f"{code} for {where}: {response.text[:500]}"
        if failed(response):
            assert await _row_counts() == before, f"a failed call changed rows: {where}: {response.text[:500]}"


async def _row_counts() -> list[int]:
    """Rows in every table but the audit trail (failures are recorded there on purpose), in
    one round trip."""
    tables = [m._meta.db_table for m in Tortoise.apps["models"].values() if m is not AuditEvent]
    counts = ", ".join(f'(SELECT COUNT(*) FROM "{table}")' for table in tables)  # noqa: S608 - our own names
    _, rows = await connections.get("default").execute_query(f"SELECT {counts}")
    return list(rows[0].values()) if isinstance(rows[0], dict) else list(rows[0])


def _graphql_failed(response: httpx.Response) -> bool:
    if response.status_code >= 400:
        return True
    body = response.json()
    data = body.get("data") or {}
    return bool(body.get("errors")) and all(value is None for value in data.values())


def _http_failed(response: httpx.Response) -> bool:
    return response.status_code >= 400


@pytest.fixture(scope="module")
async def fuzz(smtp_server: Any) -> AsyncIterator[Fuzz]:
    settings_ = make_settings(
        email_transport="smtp",
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        AUTH_PROVIDERS="github",
        AUTH_GITHUB_CLIENT_ID="fuzz",
        AUTH_GITHUB_CLIENT_SECRET="fuzz",
        AUTH_GITHUB_REDIRECT_ALLOW_LIST="https://app.example.com/",
    )
    # GitHub itself cannot be reached from here; a provider that refuses everything can.
    refusing = httpx.MockTransport(lambda request: httpx.Response(400, json={"error": "bad_verification_code"}))
    async with running_app(settings_, http_transport=refusing) as api:
        yield Fuzz(api)


# --- GraphQL: every root field of both schemas ---------------------------------------------------


@pytest.mark.parametrize(("path", "field", "has_args"), ROOT_FIELDS, ids=[f"{p}:{f}" for p, f, _ in ROOT_FIELDS])
@FUZZ
@given(data=st.data())
async def test_every_root_field(fuzz: Fuzz, path: str, field: str, has_args: bool, data: st.DataObject) -> None:
    schema = SCHEMAS[path]._schema
    # NEGATIVE: one schema violation (a wrong type, a missing required argument).
    mode = data.draw(st.sampled_from([Mode.POSITIVE, Mode.POSITIVE, Mode.NEGATIVE] if has_args else [Mode.POSITIVE]))
    query = data.draw(from_schema(schema, fields=[field], custom_scalars=CUSTOM_SCALARS, mode=mode))
    headers = await fuzz.headers(data.draw(st.sampled_from(PRINCIPALS)))
    await fuzz.send(_graphql_failed, "POST", path, json={"query": query}, headers=headers)


def _operation(path: str, name: str) -> str:
    """`field` called with one variable per argument, selecting only `__typename`."""
    schema = SCHEMAS[path]._schema
    is_query = schema.query_type is not None and name in schema.query_type.fields
    root = schema.query_type if is_query else schema.mutation_type
    assert root is not None
    field = root.fields[name]
    declared = ", ".join(f"${arg}: {field.args[arg].type}" for arg in field.args)
    passed = ", ".join(f"{arg}: ${arg}" for arg in field.args)
    selection = "" if graphql.is_leaf_type(graphql.get_named_type(field.type)) else " { __typename }"
    kind = "query" if is_query else "mutation"
    return f"{kind}{f'({declared})' if declared else ''} {{ {name}{f'({passed})' if passed else ''}{selection} }}"


VARIABLE_FIELDS = [(path, name) for path, name, has_args in ROOT_FIELDS if has_args]


@pytest.mark.parametrize(("path", "field"), VARIABLE_FIELDS, ids=[f"{p}:{f}" for p, f in VARIABLE_FIELDS])
@settings(FUZZ, max_examples=6)
@given(data=st.data())
async def test_every_root_field_with_variables(fuzz: Fuzz, path: str, field: str, data: st.DataObject) -> None:
    """The same fields with values as JSON variables: the path the edge parser and
    graphql-core's variable coercion take, which literals in the document do not."""
    query = _operation(path, field)
    names = [a.split(":")[0].lstrip("$") for a in query.split("(", 1)[1].split(")", 1)[0].split(", ")]
    variables = data.draw(st.fixed_dictionaries({n: st.one_of(SHORT_TEXT, JSON_VALUES) for n in names}))
    headers = await fuzz.headers(data.draw(st.sampled_from(PRINCIPALS)))
    await fuzz.send(_graphql_failed, "POST", path, json={"query": query, "variables": variables}, headers=headers)


@pytest.mark.parametrize("path", list(SCHEMAS))
@settings(FUZZ, max_examples=40)
@given(data=st.data())
async def test_graphql_bodies(fuzz: Fuzz, path: str, data: st.DataObject) -> None:
    headers = await fuzz.headers(data.draw(st.sampled_from(PRINCIPALS)))
    shape = data.draw(st.sampled_from(["raw", "members", "get"]))
    if shape == "raw":
        body = data.draw(RAW_BODIES)
        await fuzz.send(
            _graphql_failed, "POST", path, content=body, headers={**headers, "content-type": "application/json"}
        )
    elif shape == "members":
        members = data.draw(
            st.dictionaries(st.sampled_from(["query", "variables", "operationName", "extensions"]), JSON_VALUES)
        )
        await fuzz.send(_graphql_failed, "POST", path, json=members, headers=headers)
    else:
        params = data.draw(st.dictionaries(st.sampled_from(["query", "variables", "operationName"]), SHORT_TEXT))
        await fuzz.send(_graphql_failed, "GET", path, params=params, headers={**headers, "accept": "application/json"})


# --- REST and pages ---------------------------------------------------------------------------------

REST_FIELDS = ["email", "password", "mode", "refresh_token", "otp", "token", "reset_url"]
REST_POSTS = ["/auth/login", "/auth/refresh", "/auth/logout", "/auth/password/request", "/auth/password/reset"]


@pytest.mark.parametrize("path", REST_POSTS)
@settings(FUZZ, max_examples=25)
@given(data=st.data())
async def test_rest_routes(fuzz: Fuzz, path: str, data: st.DataObject) -> None:
    headers = await fuzz.headers(data.draw(st.sampled_from(PRINCIPALS)))
    if data.draw(st.booleans()):
        body = data.draw(
            st.dictionaries(st.sampled_from(REST_FIELDS), JSON_VALUES | st.sampled_from(["json", "cookie", "session"]))
        )
        await fuzz.send(_http_failed, "POST", path, json=body, headers=headers)
    else:
        content_type = data.draw(
            st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded"])
        )
        body = data.draw(RAW_BODIES)
        await fuzz.send(_http_failed, "POST", path, content=body, headers={**headers, "content-type": content_type})


PROVIDER_ROUTES = ["/auth", "/auth/oauth", "/auth/login/{}", "/auth/oauth/{}", "/auth/login/{}/callback"]


@pytest.mark.parametrize("route", PROVIDER_ROUTES)
@settings(FUZZ, max_examples=10)
@given(data=st.data())
async def test_provider_routes(fuzz: Fuzz, route: str, data: st.DataObject) -> None:
    provider = data.draw(st.sampled_from(["github", "nope"]) | st.text(string.ascii_letters + "-_.%", min_size=1))
    params = data.draw(st.dictionaries(st.sampled_from(["redirect", "link", "code", "state", "error"]), SHORT_TEXT))
    headers = await fuzz.headers(data.draw(st.sampled_from(PRINCIPALS)))
    await fuzz.send(_http_failed, "GET", route.format(provider), route=route, params=params, headers=headers)


PAGES = [route.path for route in page_routes if isinstance(route, Route)] + ["/auth/pages/otp"]


@pytest.mark.parametrize("path", PAGES)
@FUZZ
@given(data=st.data())
async def test_pages(fuzz: Fuzz, path: str, data: st.DataObject) -> None:
    token = data.draw(SHORT_TEXT)
    form = await fuzz.api.http.get(path, params={"token": token})
    GENERATED_REQUESTS[path] += 1
    assert form.status_code < 500, form.text
    fields = data.draw(st.dictionaries(st.sampled_from(["token", "password", "otp", "csrf_token"]), SHORT_TEXT))
    if data.draw(st.booleans()) and 'name="csrf_token"' in form.text:
        fields["csrf_token"] = form.text.split('name="csrf_token" value="')[1].split('"')[0]
    if data.draw(st.booleans()):
        await fuzz.send(_http_failed, "POST", path, data=fields)
    else:
        body = data.draw(RAW_BODIES)
        content_type = data.draw(
            st.sampled_from(["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain"])
        )
        await fuzz.send(_http_failed, "POST", path, content=body, headers={"content-type": content_type})
