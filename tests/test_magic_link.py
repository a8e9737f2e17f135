from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyotp

from app.auth.secrets import SecretBox
from app.models import OneTimeToken, User
from tests.conftest import TEST_SECRET, Api, Outbox, codes, csrf, text_of

REQUEST = "mutation($email: String!, $url: String) { auth_magic_link_request(email: $email, redirect_url: $url) }"
LOGIN = """
mutation($token: String!, $mode: auth_mode, $otp: String) {
  auth_magic_link_login(token: $token, mode: $mode, otp: $otp) { access_token expires refresh_token }
}"""


async def _link_token(api: Api, outbox: Outbox, url: str | None = None) -> str:
    assert (await api.gql(REQUEST, {"email": "ANA@example.com", "url": url})) == {
        "data": {"auth_magic_link_request": True}
    }
    [message] = outbox.to("ana@example.com")
    body = text_of(message)
    return re.search(r"token=(\S+)", body).group(1)  # type: ignore[union-attr]


async def test_magic_link_signs_in_once(api: Api, outbox: Outbox) -> None:
    await api.signup()
    token = await _link_token(api, outbox)
    result = await api.gql(LOGIN, {"token": token})
    tokens = result["data"]["auth_magic_link_login"]
    assert tokens["access_token"] and tokens["refresh_token"]
    assert (await api.gql("{ users_me { email } }", token=tokens["access_token"]))["data"]["users_me"]
    assert codes(await api.gql(LOGIN, {"token": token})) == ["INVALID_TOKEN"]


async def test_unknown_email_answers_the_same_and_sends_nothing(api: Api, outbox: Outbox) -> None:
    assert (await api.gql(REQUEST, {"email": "nobody@example.com"})) == {"data": {"auth_magic_link_request": True}}
    assert outbox.messages == []
    assert codes(await api.gql(REQUEST, {"email": "not an email"})) == ["INVALID_PAYLOAD"]
    assert codes(await api.gql(REQUEST, {"email": "a@example.com", "url": "https://evil.example/"})) == [
        "INVALID_PAYLOAD"
    ]


async def test_expired_and_forged_links_fail(api: Api, outbox: Outbox) -> None:
    await api.signup()
    token = await _link_token(api, outbox)
    await OneTimeToken.all().update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert codes(await api.gql(LOGIN, {"token": token})) == ["TOKEN_EXPIRED"]
    assert codes(await api.gql(LOGIN, {"token": "forged"})) == ["INVALID_TOKEN"]


async def test_a_wrong_second_factor_does_not_spend_the_link(api: Api, outbox: Outbox) -> None:
    await api.signup()
    secret = pyotp.random_base32()
    await User.filter(email="ana@example.com").update(tfa_secret=SecretBox(TEST_SECRET).seal(secret))
    token = await _link_token(api, outbox)
    assert codes(await api.gql(LOGIN, {"token": token})) == ["INVALID_OTP"]
    assert codes(await api.gql(LOGIN, {"token": token, "otp": "000000"})) == ["INVALID_OTP"]
    ok = await api.gql(LOGIN, {"token": token, "otp": pyotp.TOTP(secret).now()})
    assert ok["data"]["auth_magic_link_login"]["access_token"]


async def test_the_default_page_signs_in_with_a_session_cookie(api: Api, outbox: Outbox) -> None:
    await api.signup()
    token = await _link_token(api, outbox)
    form = await api.http.get(f"/auth/pages/magic-link?token={token}")
    assert form.status_code == 200 and "Sign me in" in form.text
    done = await api.http.post("/auth/pages/magic-link", data={"token": token, **csrf(form)})
    assert done.status_code == 200 and "session_token=" in done.headers["set-cookie"]
    assert (await api.gql("{ users_me { email } }"))["data"]["users_me"]["email"] == "ana@example.com"


async def test_allow_listed_redirect_url(app_with, smtp_server) -> None:  # type: ignore[no-untyped-def]
    outbox: Outbox = smtp_server.handler
    outbox.clear()
    async with app_with(
        MAGIC_LINK_URL_ALLOW_LIST="https://app.example.com/magic",
        EMAIL_TRANSPORT="smtp",
        EMAIL_SMTP_PORT=smtp_server.port,
    ) as api:
        await api.signup()
        await api.gql(REQUEST, {"email": "ana@example.com", "url": "https://app.example.com/magic"})
        body = text_of(outbox.to("ana@example.com")[0])
        assert "https://app.example.com/magic?token=" in body


async def test_racing_magic_link_logins_succeed_once(api: Api, outbox: Outbox) -> None:
    import asyncio

    await api.signup()
    token = await _link_token(api, outbox)
    results = await asyncio.gather(*(api.gql(LOGIN, {"token": token}) for _ in range(4)))
    assert sum(1 for r in results if not r.get("errors")) == 1
