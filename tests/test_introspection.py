"""Introspection: exempt from GRAPHQL_MAX_DEPTH while it is on, bounded by its own rule,
and refused when it is off. Real clients fetch the schema."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import uvicorn
from gql import Client, gql
from gql.transport.httpx import HTTPXAsyncTransport
from graphql import get_introspection_query

from app.main import create_app
from tests.conftest import Api, codes, make_settings

EVERY_OPTION = get_introspection_query(
    descriptions=True,
    specified_by_url=True,
    directive_is_repeatable=True,
    schema_description=True,
    input_value_deprecation=True,
)

# What GraphiQL sends (graphql-js's getIntrospectionQuery, as its documentation explorer
# asks for it): the same shape, its own field order.
GRAPHIQL = """
query IntrospectionQuery {
  __schema {
    description
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives {
      name
      description
      isRepeatable
      locations
      args(includeDeprecated: true) { ...InputValue }
    }
  }
}
fragment FullType on __Type {
  kind
  name
  description
  specifiedByURL
  fields(includeDeprecated: true) {
    name
    description
    args(includeDeprecated: true) { ...InputValue }
    type { ...TypeRef }
    isDeprecated
    deprecationReason
  }
  inputFields(includeDeprecated: true) { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue {
  name
  description
  type { ...TypeRef }
  defaultValue
  isDeprecated
  deprecationReason
}
fragment TypeRef on __Type {
  kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType {
  kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }
}
"""


@pytest.mark.parametrize("path", ["/graphql", "/graphql/relay"])
@pytest.mark.parametrize(
    "query",
    [
        pytest.param(get_introspection_query(), id="standard"),
        pytest.param(EVERY_OPTION, id="every option"),
        pytest.param(GRAPHIQL, id="graphiql"),
    ],
)
async def test_the_standard_introspection_query_works(api: Api, path: str, query: str) -> None:
    result = await api.gql(query, path=path)
    assert "errors" not in result, result
    names = {t["name"] for t in result["data"]["__schema"]["types"]}
    assert {"Query", "Mutation", "User"} <= names


@pytest.mark.parametrize(
    "query",
    [
        # Three nested lists: past graphql-js's MaxIntrospectionDepthRule.
        '{ __type(name: "User") { fields { type { fields { type { fields { name } } } } } } }',
        "{ __schema { types { interfaces { possibleTypes { interfaces { name } } } } } }",
        '{ __type(name: "User") { inputFields { type { inputFields { type { inputFields { name } } } } } } }',
        # Ten ofType, one more than the standard query.
        '{ __type(name: "User") { ' + "ofType { " * 10 + "name" + " }" * 10 + " } }",
        # Through fragments, spread at one level.
        "{ __schema { types { ...T } } }"
        " fragment T on __Type { fields { type { fields { type { fields { name } } } } } }",
    ],
)
async def test_introspection_is_bounded_by_its_own_rule(api: Api, query: str) -> None:
    assert codes(await api.gql(query)) == ["QUERY_TOO_COMPLEX"]


async def test_introspection_within_its_rule_answers(api: Api) -> None:
    two_lists = '{ __type(name: "User") { fields { type { fields { name } } } } }'
    assert "errors" not in await api.gql(two_lists)
    chain = '{ __type(name: "User") { ' + "ofType { " * 9 + "name" + " }" * 9 + " } }"
    assert (await api.gql(chain)) == {"data": {"__type": {"ofType": None}}}


async def test_introspection_still_obeys_the_fan_out_caps(api: Api) -> None:
    spreads = "{ __schema { types { " + "...T " * 101 + "} } } fragment T on __Type { name }"
    assert codes(await api.gql(spreads)) == ["QUERY_TOO_COMPLEX"]
    aliases = "{ " + " ".join(f"s{i}: __schema {{ description }}" for i in range(31)) + " }"
    assert codes(await api.gql(aliases)) == ["QUERY_TOO_COMPLEX"]


async def test_other_queries_still_obey_the_depth_limit(api: Api) -> None:
    deep = "{ __typename " + "a { " * 11 + "b" + " }" * 11 + " }"
    assert codes(await api.gql(deep)) == ["QUERY_TOO_COMPLEX"]
    # Introspection in the same document does not lift the limit for the rest.
    mixed = "{ __schema { types { name } } " + "a { " * 11 + "b" + " }" * 11 + " }"
    assert codes(await api.gql(mixed)) == ["QUERY_TOO_COMPLEX"]


async def test_introspection_off_refuses_introspection(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(GRAPHQL_INTROSPECTION="false") as api:
        for path in ("/graphql", "/graphql/relay"):
            result = await api.gql(EVERY_OPTION, path=path)
            assert result.get("data") is None and codes(result), result
            assert set(codes(result)) <= {"GRAPHQL_VALIDATION", "QUERY_TOO_COMPLEX"}
        assert codes(await api.gql('{ __type(name: "User") { name } }')) == ["GRAPHQL_VALIDATION"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def served(**overrides: str) -> AsyncIterator[str]:
    """The app behind uvicorn on a loopback port, as a client would reach it."""
    port = _free_port()
    config = uvicorn.Config(
        create_app(make_settings(**overrides)),
        host="127.0.0.1",
        port=port,
        lifespan="on",
        ws="none",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), task.result()
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.mark.parametrize("path", ["/graphql", "/graphql/relay"])
async def test_a_real_client_fetches_the_schema(path: str) -> None:
    async with served() as url:
        transport = HTTPXAsyncTransport(url=url + path)
        async with Client(transport=transport, fetch_schema_from_transport=True) as session:
            result = await session.execute(gql("query { auth_providers { name } auth_providers_disable_default }"))
            assert session.client.schema is not None
            assert session.client.schema.get_type("User") is not None
    assert result == {"auth_providers": [], "auth_providers_disable_default": False}
