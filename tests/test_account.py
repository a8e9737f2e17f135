"""The signed-in user's own account: sessions, profile, password, deletion, verification."""

from __future__ import annotations

import re

from app.models import ApiToken, AuditEvent, OneTimeToken, Session, User
from tests.conftest import LOGIN, Api, Outbox, codes, csrf, text_of

SESSIONS = """
query($first: Int, $after: String) {
  users_me_sessions(first: $first, after: $after) {
    edges { cursor node { id created_at last_used_at expires_at user_agent ip current } }
    pageInfo { hasNextPage endCursor }
  }
}"""
PASSWORD = "correct horse battery"


async def test_sessions_are_listed_with_the_current_one_marked(api: Api) -> None:
    await api.signup()
    tokens = [await api.login() for _ in range(3)]
    result = await api.gql(SESSIONS, {"first": 2}, token=tokens[1]["access_token"])
    page = result["data"]["users_me_sessions"]
    assert len(page["edges"]) == 2 and page["pageInfo"]["hasNextPage"] is True
    rest = await api.gql(
        SESSIONS, {"first": 2, "after": page["pageInfo"]["endCursor"]}, token=tokens[1]["access_token"]
    )
    nodes = [e["node"] for e in page["edges"] + rest["data"]["users_me_sessions"]["edges"]]
    assert len({n["id"] for n in nodes}) == 3
    assert [n["current"] for n in nodes].count(True) == 1
    assert all(n["ip"] == "127.0.0.1" for n in nodes)
    assert codes(await api.gql(SESSIONS)) == ["FORBIDDEN"]
    assert codes(await api.gql(SESSIONS, {"after": "!!"}, token=tokens[0]["access_token"])) == ["INVALID_PAYLOAD"]
    assert codes(await api.gql(SESSIONS, {"first": 1000}, token=tokens[0]["access_token"])) == ["INVALID_PAYLOAD"]


async def test_revoking_a_session_signs_that_device_out(api: Api) -> None:
    await api.signup()
    phone, laptop = await api.login(), await api.login()
    edges = (await api.gql(SESSIONS, token=laptop["access_token"]))["data"]["users_me_sessions"]["edges"]
    phone_id = next(e["node"]["id"] for e in edges if not e["node"]["current"])
    revoke = "mutation($id: ID!) { auth_session_revoke(id: $id) }"
    assert (await api.gql(revoke, {"id": phone_id}, token=laptop["access_token"])) == {
        "data": {"auth_session_revoke": True}
    }
    assert codes(await api.gql("{ users_me { id } }", token=phone["access_token"])) == ["INVALID_TOKEN"]
    assert codes(await api.gql(revoke, {"id": phone_id}, token=laptop["access_token"])) == ["FORBIDDEN"]


async def test_someone_elses_session_cannot_be_revoked(api: Api) -> None:
    await api.signup("bo@example.com")
    bo = await api.login("bo@example.com")
    await api.signup()
    ana = await api.login()
    bo_session = (await api.gql(SESSIONS, token=bo["access_token"]))["data"]["users_me_sessions"]["edges"][0]["node"][
        "id"
    ]
    result = await api.gql(
        "mutation($id: ID!) { auth_session_revoke(id: $id) }", {"id": bo_session}, token=ana["access_token"]
    )
    assert codes(result) == ["FORBIDDEN"]
    assert (await api.gql("{ users_me { email } }", token=bo["access_token"]))["data"]["users_me"] is not None


async def test_revoke_all_keeps_the_current_session_by_default(api: Api) -> None:
    await api.signup()
    others = [await api.login() for _ in range(2)]
    current = await api.login()
    result = await api.gql("mutation { auth_sessions_revoke_all }", token=current["access_token"])
    assert result == {"data": {"auth_sessions_revoke_all": 2}}
    assert (await api.gql("{ users_me { email } }", token=current["access_token"]))["data"]["users_me"]
    assert codes(await api.gql("{ users_me { email } }", token=others[0]["access_token"])) == ["INVALID_TOKEN"]
    everything = await api.gql(
        "mutation { auth_sessions_revoke_all(keep_current: false) }", token=current["access_token"]
    )
    assert everything == {"data": {"auth_sessions_revoke_all": 1}}
    assert codes(await api.gql("{ users_me { email } }", token=current["access_token"])) == ["INVALID_TOKEN"]


async def test_profile_update(api: Api) -> None:
    await api.signup()
    token = (await api.login())["access_token"]
    update = (
        "mutation($f: String, $n: String) { users_me_update(first_name: $f, name: $n) { first_name last_name name } }"
    )
    result = await api.gql(update, {"f": "  Ana ", "n": "Ana L."}, token=token)
    assert result["data"]["users_me_update"] == {"first_name": "Ana", "last_name": None, "name": "Ana L."}
    assert codes(await api.gql(update, {"f": "x" * 101}, token=token)) == ["INVALID_PAYLOAD"]
    assert codes(await api.gql(update, {"f": "Eve"})) == ["FORBIDDEN"]


async def test_password_update_needs_the_current_one_and_signs_out_other_sessions(api: Api) -> None:
    await api.signup()
    other, current = await api.login(), await api.login()
    change = "mutation($p: String!, $n: String!) { users_me_password_update(password: $p, new_password: $n) }"
    wrong = await api.gql(change, {"p": "not it at all", "n": "a new passphrase"}, token=current["access_token"])
    assert codes(wrong) == ["INVALID_CREDENTIALS"]
    weak = await api.gql(change, {"p": PASSWORD, "n": "short"}, token=current["access_token"])
    assert codes(weak) == ["INVALID_PAYLOAD"]
    ok = await api.gql(change, {"p": PASSWORD, "n": "a new passphrase"}, token=current["access_token"])
    assert ok == {"data": {"users_me_password_update": True}}
    assert (await api.gql("{ users_me { email } }", token=current["access_token"]))["data"]["users_me"]
    assert codes(await api.gql("{ users_me { email } }", token=other["access_token"])) == ["INVALID_TOKEN"]
    assert codes(await api.gql(LOGIN, {"email": "ana@example.com", "password": PASSWORD})) == ["INVALID_CREDENTIALS"]
    await api.login(password="a new passphrase")
    assert await AuditEvent.filter(action="password.changed").count() == 1


async def test_delete_removes_the_user_and_everything_they_own(api: Api) -> None:
    await api.signup("bo@example.com")
    await api.signup()
    token = (await api.login())["access_token"]
    await api.gql('mutation { api_tokens_create(name: "ci") { token } }', token=token)
    await api.gql('mutation { auth_password_request(email: "ana@example.com") }')
    delete = "mutation($p: String!) { users_me_delete(password: $p) }"
    assert codes(await api.gql(delete, {"p": "wrong password"}, token=token)) == ["INVALID_CREDENTIALS"]
    assert (await api.gql(delete, {"p": PASSWORD}, token=token)) == {"data": {"users_me_delete": True}}
    assert await User.filter(email="ana@example.com").count() == 0
    assert await User.filter(email="bo@example.com").count() == 1
    for model in (Session, ApiToken, OneTimeToken):
        assert await model.all().count() == 0, model
    assert codes(await api.gql("{ users_me { id } }", token=token)) == ["INVALID_TOKEN"]
    assert await AuditEvent.filter(action="user.deleted").count() == 1


async def test_email_verification_for_an_existing_user(api: Api, outbox: Outbox) -> None:
    await api.signup()
    token = (await api.login())["access_token"]
    result = await api.gql("mutation { users_me_email_verify_request }", token=token)
    assert result == {"data": {"users_me_email_verify_request": True}}
    [message] = outbox.to("ana@example.com")
    body = text_of(message)
    verify_token = re.search(r"token=(\S+)", body).group(1)  # type: ignore[union-attr]
    page = await api.http.get(f"/auth/pages/verify-email?token={verify_token}")
    assert page.status_code == 200 and "Confirm" in page.text
    done = await api.http.post("/auth/pages/verify-email", data={"token": verify_token, **csrf(page)})
    assert done.status_code == 200 and "verified" in done.text
    assert (await User.get(email="ana@example.com")).email_verified
    again = await api.gql("mutation { users_me_email_verify_request }", token=token)
    assert codes(again) == ["INVALID_PAYLOAD"]
