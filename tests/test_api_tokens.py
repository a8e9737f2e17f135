from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.auth.secrets import hash_token
from app.models import ApiToken, Role, Session, Status, User
from tests.conftest import Api, codes, update_user

CREATE = """
mutation($name: String!, $role: user_role, $expires: DateTime) {
  api_tokens_create(name: $name, role: $role, expires_at: $expires) { id token }
}"""
LIST = "{ api_tokens { edges { node { id name role last_used_at expires_at } } } }"
ME = "{ users_me { email role } }"


async def _session(api: Api, email: str = "ana@example.com") -> str:
    await api.signup(email)
    return str((await api.login(email))["access_token"])


async def test_a_token_is_shown_once_and_stored_hashed(api: Api) -> None:
    session = await _session(api)
    created = (await api.gql(CREATE, {"name": "ci"}, token=session))["data"]["api_tokens_create"]
    secret = created["token"]
    assert secret.startswith("sk_") and len(secret) > 40
    stored = await ApiToken.get()
    assert stored.token_hash == hash_token(secret) and secret not in stored.token_hash
    listed = (await api.gql(LIST, token=session))["data"]["api_tokens"]["edges"]
    assert [e["node"]["name"] for e in listed] == ["ci"] and "token" not in listed[0]["node"]


async def test_bearer_and_x_api_key_authenticate_as_the_user(api: Api) -> None:
    session = await _session(api)
    secret = (await api.gql(CREATE, {"name": "ci"}, token=session))["data"]["api_tokens_create"]["token"]
    assert (await api.gql(ME, token=secret))["data"]["users_me"] == {"email": "ana@example.com", "role": "user"}
    by_header = await api.gql(ME, headers={"X-API-Key": secret})
    assert by_header["data"]["users_me"]["email"] == "ana@example.com"
    assert (await ApiToken.get()).last_used_at is not None


async def test_a_token_acts_with_at_most_its_role(api: Api) -> None:
    session = await _session(api)
    await User.filter(email="ana@example.com").update(role=Role.admin)
    guest = (await api.gql(CREATE, {"name": "read-only", "role": "guest"}, token=session))["data"]["api_tokens_create"]
    assert (await api.gql(ME, token=guest["token"]))["data"]["users_me"]["role"] == "admin"
    assert codes(await api.gql("{ users { edges { node { id } } } }", token=guest["token"])) == ["FORBIDDEN"]
    admin = (await api.gql(CREATE, {"name": "ops", "role": "admin"}, token=session))["data"]["api_tokens_create"]
    assert "errors" not in await api.gql("{ users { edges { node { id } } } }", token=admin["token"])
    # Demoting the user demotes the token: never more than the user has now.
    await User.filter(email="ana@example.com").update(role=Role.user)
    assert codes(await api.gql("{ users { edges { node { id } } } }", token=admin["token"])) == ["FORBIDDEN"]


async def test_only_an_admin_mints_a_role_above_their_own(api: Api) -> None:
    session = await _session(api)
    result = await api.gql(CREATE, {"name": "sneaky", "role": "admin"}, token=session)
    assert codes(result) == ["FORBIDDEN"]
    assert await ApiToken.all().count() == 0


async def test_a_token_cannot_manage_the_account(api: Api) -> None:
    session = await _session(api)
    secret = (await api.gql(CREATE, {"name": "ci"}, token=session))["data"]["api_tokens_create"]["token"]
    assert codes(await api.gql(CREATE, {"name": "more"}, token=secret)) == ["FORBIDDEN"]
    change = 'mutation { users_me_password_update(password: "correct horse battery", new_password: "x" ) }'
    assert codes(await api.gql(change, token=secret)) == ["FORBIDDEN"]


async def test_revoked_expired_and_forged_tokens_fail(api: Api) -> None:
    session = await _session(api)
    created = (await api.gql(CREATE, {"name": "ci"}, token=session))["data"]["api_tokens_create"]
    revoke = "mutation($id: ID!) { api_tokens_revoke(id: $id) }"
    assert (await api.gql(revoke, {"id": created["id"]}, token=session)) == {"data": {"api_tokens_revoke": True}}
    assert codes(await api.gql(ME, token=created["token"])) == ["INVALID_TOKEN"]
    assert codes(await api.gql(revoke, {"id": created["id"]}, token=session)) == ["FORBIDDEN"]

    soon = (await api.gql(CREATE, {"name": "short"}, token=session))["data"]["api_tokens_create"]
    await ApiToken.filter(name="short").update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert codes(await api.gql(ME, token=soon["token"])) == ["TOKEN_EXPIRED"]

    assert codes(await api.gql(ME, token="sk_" + "a" * 43)) == ["INVALID_TOKEN"]
    assert codes(await api.gql(ME, headers={"X-API-Key": "sk_nope"})) == ["INVALID_TOKEN"]
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert codes(await api.gql(CREATE, {"name": "old", "expires": past}, token=session)) == ["INVALID_PAYLOAD"]
    assert codes(await api.gql(CREATE, {"name": " "}, token=session)) == ["INVALID_PAYLOAD"]


async def test_someone_elses_token_cannot_be_revoked(api: Api) -> None:
    bo = await _session(api, "bo@example.com")
    created = (await api.gql(CREATE, {"name": "bo"}, token=bo))["data"]["api_tokens_create"]
    ana = await _session(api)
    result = await api.gql("mutation($id: ID!) { api_tokens_revoke(id: $id) }", {"id": created["id"]}, token=ana)
    assert codes(result) == ["FORBIDDEN"]
    assert (await api.gql(ME, token=created["token"]))["data"]["users_me"]["email"] == "bo@example.com"


async def test_a_suspended_users_tokens_stop_working(api: Api) -> None:
    session = await _session(api)
    secret = (await api.gql(CREATE, {"name": "ci"}, token=session))["data"]["api_tokens_create"]["token"]
    await User.filter(email="ana@example.com").update(status=Status.suspended)
    assert codes(await api.gql(ME, token=secret)) == ["INVALID_TOKEN"]


# --- credentials need a session, not an API token -------------------------------------------

ACCOUNT_OPERATIONS = {
    "users_me_sessions": "{ users_me_sessions { edges { node { id } } } }",
    "api_tokens": LIST,
    "auth_session_revoke": 'mutation { auth_session_revoke(id: "U2Vzc2lvbjox") }',
    "auth_sessions_revoke_all": "mutation { auth_sessions_revoke_all(keep_current: false) }",
    "api_tokens_create": 'mutation { api_tokens_create(name: "more") { token } }',
    "api_tokens_revoke": 'mutation { api_tokens_revoke(id: "QXBpVG9rZW46MQ==") }',
    "users_me_password_update": 'mutation { users_me_password_update(password: "p", new_password: "q") }',
    "users_me_tfa_generate": 'mutation { users_me_tfa_generate(password: "p") { secret } }',
    "users_me_tfa_enable": 'mutation { users_me_tfa_enable(otp: "123456", secret: "JBSWY3DPEHPK3PXP") }',
    "users_me_tfa_disable": 'mutation { users_me_tfa_disable(otp: "123456") }',
    "users_me_tfa_recovery_codes": 'mutation { users_me_tfa_recovery_codes(otp: "123456") }',
    "users_me_identities": "{ users_me_identities { provider } }",
    "users_me_identity_unlink": 'mutation { users_me_identity_unlink(provider: "google") }',
    "users_me_delete": 'mutation { users_me_delete(password: "p") }',
}


async def test_an_api_token_cannot_touch_the_accounts_credentials(api: Api) -> None:
    session = await _session(api)
    guest = (await api.gql(CREATE, {"name": "ro", "role": "guest"}, token=session))["data"]["api_tokens_create"]
    await update_user("ana@example.com", role=Role.admin)
    admin = (await api.gql(CREATE, {"name": "ops", "role": "admin"}, token=session))["data"]["api_tokens_create"]
    for secret in (guest["token"], admin["token"]):
        for name, query in ACCOUNT_OPERATIONS.items():
            result = await api.gql(query, token=secret)
            assert codes(result) == ["FORBIDDEN"], (name, result)
            assert result["errors"][0]["message"].startswith("API tokens cannot"), name
    # Nothing happened: the session and both tokens still work, the account is there.
    assert (await api.gql(ME, token=session))["data"]["users_me"]["email"] == "ana@example.com"
    assert await ApiToken.filter(revoked_at=None).count() == 2
    assert (await api.gql(ME, token=guest["token"]))["data"]["users_me"]["email"] == "ana@example.com"
    # Signed out: the usual FORBIDDEN; a session: allowed.
    assert codes(await api.gql(ACCOUNT_OPERATIONS["auth_sessions_revoke_all"])) == ["FORBIDDEN"]
    assert (await api.gql(ACCOUNT_OPERATIONS["auth_sessions_revoke_all"], token=session))["data"] == {
        "auth_sessions_revoke_all": 1
    }


# --- minting needs a recent authentication ----------------------------------------------------

CREATE_WITH = """
mutation($name: String!, $password: String, $otp: String) {
  api_tokens_create(name: $name, password: $password, otp: $otp) { id token }
}"""


async def _stale(email: str = "ana@example.com") -> None:
    """Make the user's sessions look as if they signed in 11 minutes ago (and did not
    re-authenticate since)."""
    await Session.filter(user__email=email).update(
        created_at=datetime.now(UTC) - timedelta(minutes=11), reauthenticated_at=None
    )


async def test_a_stale_session_must_confirm_before_minting(api: Api) -> None:
    session = await _session(api)
    await _stale()
    result = await api.gql(CREATE_WITH, {"name": "ci"}, token=session)
    assert codes(result) == ["FORBIDDEN"] and await ApiToken.all().count() == 0
    wrong = await api.gql(CREATE_WITH, {"name": "ci", "password": "not my password"}, token=session)
    assert codes(wrong) == ["INVALID_CREDENTIALS"] and await ApiToken.all().count() == 0
    assert codes(await api.gql(CREATE_WITH, {"name": "ci", "otp": "123456"}, token=session)) == ["INVALID_OTP"]
    ok = await api.gql(CREATE_WITH, {"name": "ci", "password": "correct horse battery"}, token=session)
    assert ok["data"]["api_tokens_create"]["token"].startswith("sk_")
    # Re-authenticating made the session recent again for a while.
    assert (await Session.get()).reauthenticated_at is not None
    assert "errors" not in await api.gql(CREATE_WITH, {"name": "more"}, token=session)


async def test_a_stale_session_confirms_with_an_otp(api: Api) -> None:
    import pyotp

    session = await _session(api)
    generate = 'mutation { users_me_tfa_generate(password: "correct horse battery") { secret } }'
    secret = (await api.gql(generate, token=session))["data"]["users_me_tfa_generate"]["secret"]
    enable = "mutation($otp: String!, $secret: String!) { users_me_tfa_enable(otp: $otp, secret: $secret) }"
    previous = pyotp.TOTP(secret).at(datetime.now(UTC) - timedelta(seconds=30))
    assert "errors" not in await api.gql(enable, {"otp": previous, "secret": secret}, token=session)
    await _stale()
    ok = await api.gql(CREATE_WITH, {"name": "ci", "otp": pyotp.TOTP(secret).now()}, token=session)
    assert ok["data"]["api_tokens_create"]["token"].startswith("sk_"), ok


async def test_a_refreshed_access_token_does_not_renew_the_sign_in(api: Api) -> None:
    await api.signup()
    tokens = await api.login()
    await _stale()
    refresh = "mutation($t: String) { auth_refresh(refresh_token: $t) { access_token } }"
    access = (await api.gql(refresh, {"t": tokens["refresh_token"]}))["data"]["auth_refresh"]["access_token"]
    assert codes(await api.gql(CREATE_WITH, {"name": "ci"}, token=access)) == ["FORBIDDEN"]


async def test_wrong_passwords_sent_at_once_spend_the_reauthentication_budget_once(api: Api) -> None:
    import asyncio

    session = await _session(api)
    await _stale()
    guesses = [api.gql(CREATE_WITH, {"name": "ci", "password": f"guess number {i}"}, token=session) for i in range(25)]
    results = await asyncio.gather(*guesses)
    outcomes = [codes(r) for r in results]
    assert outcomes.count(["INVALID_CREDENTIALS"]) <= 10, outcomes
    assert outcomes.count(["INVALID_CREDENTIALS"]) + outcomes.count(["REQUESTS_EXCEEDED"]) == 25
    right = await api.gql(CREATE_WITH, {"name": "ci", "password": "correct horse battery"}, token=session)
    assert codes(right) == ["REQUESTS_EXCEEDED"] and await ApiToken.all().count() == 0
