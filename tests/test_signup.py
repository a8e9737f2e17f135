from __future__ import annotations

import asyncio
import re

from app.models import Role, Status, User
from tests.conftest import CREATE_USER, LOGIN, Api, Outbox, codes, text_of

SIGNIN = """
mutation($email: String!, $password: String!) {
  signinUser(email: {email: $email, password: $password}) { token refreshToken user { id email name } }
}"""
REGISTER = """
mutation($email: String!, $password: String!, $url: String) {
  users_register(email: $email, password: $password, first_name: "Ana", last_name: "Lima", verification_url: $url)
}"""
VERIFY = "mutation($token: String!) { users_register_verify(token: $token) }"


async def test_create_user_returns_the_new_user(api: Api) -> None:
    result = await api.gql(
        CREATE_USER, {"email": "Ana@Example.com", "password": "correct horse battery", "name": "Ana"}
    )
    user = result["data"]["createUser"]
    assert user["email"] == "ana@example.com" and user["name"] == "Ana"
    assert user["role"] == "user" and user["status"] == "active"
    stored = await User.get(email="ana@example.com")
    assert stored.password_hash is not None and stored.password_hash.startswith("$argon2id$")
    assert "correct horse battery" not in stored.password_hash


async def test_create_user_with_a_taken_email_is_record_not_unique(api: Api) -> None:
    await api.signup()
    again = await api.gql(CREATE_USER, {"email": "ANA@example.com", "password": "another password"})
    assert codes(again) == ["RECORD_NOT_UNIQUE"]
    assert await User.all().count() == 1


async def test_racing_sign_ups_create_one_account(api: Api) -> None:
    results = await asyncio.gather(
        *(api.gql(CREATE_USER, {"email": "race@example.com", "password": "correct horse battery"}) for _ in range(3))
    )
    assert sorted(codes(r)[0] if codes(r) else "ok" for r in results) == [
        "RECORD_NOT_UNIQUE",
        "RECORD_NOT_UNIQUE",
        "ok",
    ]
    assert await User.filter(email="race@example.com").count() == 1


async def test_bad_sign_up_values_are_invalid_payload(api: Api) -> None:
    for email, password in [
        ("not-an-email", "correct horse battery"),
        ("", "correct horse battery"),
        ("a@b", "correct horse battery"),
        ("x" * 250 + "@example.com", "correct horse battery"),
        ("ana@example.com", "short"),
        ("ana@example.com", "x" * 257),
        ("ana@example.com", " " * 12),
    ]:
        result = await api.gql(CREATE_USER, {"email": email, "password": password})
        assert codes(result) == ["INVALID_PAYLOAD"], (email, password)
    assert await User.all().count() == 0


async def test_provider_input_needs_exactly_one_member(api: Api) -> None:
    none = await api.gql("mutation { createUser(authProvider: {}) { id } }")
    assert codes(none) == ["INVALID_PAYLOAD"]
    both = await api.gql(
        'mutation { createUser(authProvider: {email: {email: "a@example.com", password: "12345678"},'
        ' auth0: {idToken: "x"}}) { id } }'
    )
    assert codes(both) == ["INVALID_PAYLOAD"]
    signin_none = await api.gql("mutation { signinUser { token } }")
    assert codes(signin_none) == ["INVALID_PAYLOAD"]


async def test_unconfigured_providers_are_invalid_provider(api: Api) -> None:
    auth0 = await api.gql('mutation { signinUser(auth0: {idToken: "x.y.z"}) { token } }')
    assert codes(auth0) == ["INVALID_PROVIDER"]
    created = await api.gql('mutation { createUser(authProvider: {auth0: {idToken: "x.y.z"}}) { id } }')
    assert codes(created) == ["INVALID_PROVIDER"]
    oidc = await api.gql('mutation { signinUser(oidc: {provider: "nope", idToken: "x"}) { token } }')
    assert codes(oidc) == ["INVALID_PROVIDER"]


async def test_signin_user_returns_graphcool_payload(api: Api) -> None:
    await api.signup()
    result = await api.gql(SIGNIN, {"email": "ana@example.com", "password": "correct horse battery"})
    payload = result["data"]["signinUser"]
    assert payload["token"] and payload["refreshToken"] and payload["user"]["email"] == "ana@example.com"
    me = await api.gql("{ user { id email } }", token=payload["token"])
    assert me["data"]["user"] == {"id": payload["user"]["id"], "email": "ana@example.com"}
    wrong = await api.gql(SIGNIN, {"email": "ana@example.com", "password": "wrong password"})
    assert codes(wrong) == ["INVALID_CREDENTIALS"] and wrong["data"] == {"signinUser": None}


async def test_registration_can_be_closed(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(PUBLIC_REGISTRATION="false") as api:
        created = await api.gql(CREATE_USER, {"email": "ana@example.com", "password": "correct horse battery"})
        registered = await api.gql(REGISTER, {"email": "ana@example.com", "password": "correct horse battery"})
        assert codes(created) == codes(registered) == ["FORBIDDEN"]
        assert await User.all().count() == 0


async def test_disabling_the_default_provider_turns_email_sign_in_off(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(AUTH_DISABLE_DEFAULT="true") as api:
        await User.create(email="ana@example.com", password_hash="x")
        result = await api.gql(LOGIN, {"email": "ana@example.com", "password": "correct horse battery"})
        assert codes(result) == ["INVALID_PROVIDER"]
        created = await api.gql(CREATE_USER, {"email": "bo@example.com", "password": "correct horse battery"})
        assert codes(created) == ["INVALID_PROVIDER"]
        listed = (await api.http.get("/auth")).json()
        assert listed["disableDefault"] is True


async def test_users_register_answers_true_for_a_taken_email_and_mails_the_owner(api: Api, outbox: Outbox) -> None:
    await api.signup()
    result = await api.gql(REGISTER, {"email": "ana@example.com", "password": "some other password"})
    assert result == {"data": {"users_register": True}}
    [message] = outbox.to("ana@example.com")
    assert message["Subject"] == "Sign-up attempt"
    await api.login()  # the account is untouched


async def test_users_register_creates_an_active_user_without_verification(api: Api, outbox: Outbox) -> None:
    result = await api.gql(REGISTER, {"email": "new@example.com", "password": "correct horse battery"})
    assert result == {"data": {"users_register": True}}
    user = await User.get(email="new@example.com")
    assert (user.first_name, user.last_name, user.status, user.role) == ("Ana", "Lima", Status.active, Role.user)
    assert outbox.messages == []


async def test_email_verification_flow(app_with, smtp_server) -> None:  # type: ignore[no-untyped-def]
    outbox: Outbox = smtp_server.handler
    outbox.clear()
    async with app_with(
        EMAIL_VERIFICATION="true",
        EMAIL_TRANSPORT="smtp",
        EMAIL_SMTP_HOST="127.0.0.1",
        EMAIL_SMTP_PORT=smtp_server.port,
        USER_REGISTER_URL_ALLOW_LIST="https://app.example.com/verify",
    ) as api:
        bad_url = await api.gql(
            REGISTER,
            {"email": "new@example.com", "password": "correct horse battery", "url": "https://evil.example/verify"},
        )
        assert codes(bad_url) == ["INVALID_PAYLOAD"]
        await api.gql(
            REGISTER,
            {"email": "new@example.com", "password": "correct horse battery", "url": "https://app.example.com/verify"},
        )
        assert (await User.get(email="new@example.com")).status == Status.unverified
        blocked = await api.gql(LOGIN, {"email": "new@example.com", "password": "correct horse battery"})
        assert codes(blocked) == ["USER_SUSPENDED"]
        [message] = outbox.to("new@example.com")
        body = text_of(message)
        match = re.search(r"https://app\.example\.com/verify\?token=(\S+)", body)
        assert match, body
        token = match.group(1)
        assert (await api.gql(VERIFY, {"token": token})) == {"data": {"users_register_verify": True}}
        user = await User.get(email="new@example.com")
        assert user.status == Status.active and user.email_verified
        await api.login("new@example.com", "correct horse battery")
        assert codes(await api.gql(VERIFY, {"token": token})) == ["INVALID_TOKEN"]


async def test_verification_mail_failure_leaves_no_account(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(EMAIL_VERIFICATION="true", EMAIL_TRANSPORT="smtp", EMAIL_SMTP_PORT=1) as api:
        result = await api.gql(CREATE_USER, {"email": "new@example.com", "password": "correct horse battery"})
        assert codes(result) == ["SERVICE_UNAVAILABLE"]
        assert await User.filter(email="new@example.com").count() == 0


async def test_users_register_refuses_a_bad_name_alike_for_taken_and_new_emails(api: Api, outbox: Outbox) -> None:
    await api.signup()
    register = """mutation($email: String!, $name: String!) {
      users_register(email: $email, password: "correct horse battery", first_name: $name)
    }"""
    for email in ("ana@example.com", "new@example.com"):
        result = await api.gql(register, {"email": email, "name": "x" * 101})
        assert codes(result) == ["INVALID_PAYLOAD"], email
    assert outbox.messages == []
    assert await User.all().count() == 1
