from __future__ import annotations

import base64

from app.models import Role
from tests.conftest import Api, codes, update_user

RELAY_CREATE = """
mutation($input: SignupUserInput!) {
  createUser(input: $input) { clientMutationId user { id email } viewer { id user { id } } }
}"""
RELAY_SIGNIN = """
mutation($input: SigninUserInput!) {
  signinUser(input: $input) { token refreshToken clientMutationId user { id email } viewer { id user { id email } } }
}"""


async def test_relay_create_and_sign_in(api: Api) -> None:
    created = await api.gql(
        RELAY_CREATE,
        {
            "input": {
                "authProvider": {"email": {"email": "ana@example.com", "password": "correct horse battery"}},
                "clientMutationId": "c1",
            }
        },
        path="/graphql/relay",
    )
    payload = created["data"]["createUser"]
    assert payload["clientMutationId"] == "c1"
    assert payload["user"]["email"] == "ana@example.com"
    assert payload["viewer"]["user"] is None  # signing up does not sign in

    signed = await api.gql(
        RELAY_SIGNIN,
        {
            "input": {
                "email": {"email": "ana@example.com", "password": "correct horse battery"},
                "clientMutationId": "c2",
            }
        },
        path="/graphql/relay",
    )
    payload = signed["data"]["signinUser"]
    assert payload["clientMutationId"] == "c2" and payload["token"] and payload["refreshToken"]
    assert payload["viewer"]["user"] == {"id": payload["user"]["id"], "email": "ana@example.com"}

    viewer = await api.gql("{ viewer { id user { email } } }", token=payload["token"], path="/graphql/relay")
    assert viewer["data"]["viewer"]["user"] == {"email": "ana@example.com"}
    anonymous = await api.gql("{ viewer { id user { email } } }", path="/graphql/relay")
    assert anonymous["data"]["viewer"]["user"] is None and anonymous["data"]["viewer"]["id"]


async def test_relay_errors_carry_codes(api: Api) -> None:
    wrong = await api.gql(
        RELAY_SIGNIN, {"input": {"email": {"email": "x@example.com", "password": "nope nope"}}}, path="/graphql/relay"
    )
    assert codes(wrong) == ["INVALID_CREDENTIALS"]
    empty = await api.gql(RELAY_SIGNIN, {"input": {}}, path="/graphql/relay")
    assert codes(empty) == ["INVALID_PAYLOAD"]


async def test_node_resolves_the_global_id(api: Api) -> None:
    user = await api.signup()
    token = (await api.login())["access_token"]
    assert base64.b64decode(user["id"]).decode().startswith("User:")
    result = await api.gql(
        "query($id: ID!) { node(id: $id) { id ... on User { email } } }", {"id": user["id"]}, token=token
    )
    assert result["data"]["node"] == {"id": user["id"], "email": "ana@example.com"}
    many = await api.gql(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
        {"ids": [user["id"], base64.b64encode(b"User:00000000-0000-0000-0000-000000000000").decode()]},
        token=token,
    )
    assert many["data"]["nodes"] == [{"id": user["id"]}, None]
    bad = await api.gql("query($id: ID!) { node(id: $id) { id } }", {"id": "%%%"}, token=token)
    assert codes(bad) == ["INVALID_PAYLOAD"]


async def test_node_is_empty_for_everyone(api: Api) -> None:
    user = await api.signup()
    result = await api.gql("query($id: ID!) { node(id: $id) { id } }", {"id": user["id"]})
    assert result == {"data": {"node": None}}


async def test_other_users_private_fields_need_admin(api: Api) -> None:
    other = await api.signup("bo@example.com")
    await api.signup("ana@example.com")
    ana = (await api.login("ana@example.com"))["access_token"]
    query = "query($id: ID!) { node(id: $id) { ... on User { id name email } } }"
    as_ana = await api.gql(query, {"id": other["id"]}, token=ana)
    assert as_ana["data"]["node"] == {"id": other["id"], "name": None, "email": None}
    assert codes(as_ana) == ["FORBIDDEN"]

    await update_user("ana@example.com", role=Role.admin)
    as_admin = await api.gql(query, {"id": other["id"]}, token=ana)
    assert as_admin["data"]["node"]["email"] == "bo@example.com" and "errors" not in as_admin


async def test_node_resolves_own_sessions_and_api_tokens_only(api: Api) -> None:
    await api.signup()
    token = (await api.login())["access_token"]
    session_id = (await api.gql("{ users_me_sessions { edges { node { id } } } }", token=token))["data"][
        "users_me_sessions"
    ]["edges"][0]["node"]["id"]
    api_token = (await api.gql('mutation { api_tokens_create(name: "ci") { id } }', token=token))["data"][
        "api_tokens_create"
    ]["id"]
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Session { current } ... on ApiToken { name } } }"
    mine = await api.gql(query, {"ids": [session_id, api_token]}, token=token)
    assert mine["data"]["nodes"] == [{"id": session_id, "current": True}, {"id": api_token, "name": "ci"}]
    await api.signup("bo@example.com")
    bo = (await api.login("bo@example.com"))["access_token"]
    theirs = await api.gql(query, {"ids": [session_id, api_token]}, token=bo)
    assert theirs["data"]["nodes"] == [None, None]


async def test_the_relay_endpoint_has_the_same_capabilities(api: Api) -> None:
    await api.signup()
    login = await api.gql(
        'mutation { auth_login(email: "ana@example.com", password: "correct horse battery") { access_token } }',
        path="/graphql/relay",
    )
    token = login["data"]["auth_login"]["access_token"]
    sessions = await api.gql("{ users_me_sessions { edges { node { current } } } }", token=token, path="/graphql/relay")
    assert sessions["data"]["users_me_sessions"]["edges"] == [{"node": {"current": True}}]
    limited = await api.gql(
        'mutation { a: auth_login(email: "a@example.com", password: "12345678") { expires }'
        ' b: signinUser(input: {email: {email: "a@example.com", password: "12345678"}}) { token } }',
        path="/graphql/relay",
    )
    assert codes(limited) == ["QUERY_TOO_COMPLEX"]
