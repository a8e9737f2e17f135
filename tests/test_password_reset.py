from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.message import Message

from app.auth.secrets import hash_token
from app.models import OneTimeToken, Session
from tests.conftest import LOGIN, Api, Outbox, codes, csrf, text_of

REQUEST = "mutation($email: String!, $url: String) { auth_password_request(email: $email, reset_url: $url) }"
RESET = "mutation($token: String!, $password: String!) { auth_password_reset(token: $token, password: $password) }"
NEW_PASSWORD = "a brand new passphrase"


def _link(message: Message) -> str:
    match = re.search(r"(https?://\S+)", text_of(message))
    assert match, text_of(message)
    return match.group(1)


def _token(message: Message) -> str:
    match = re.search(r"[?&]token=([A-Za-z0-9_\-]+)", _link(message))
    assert match
    return match.group(1)


async def _request(api: Api, outbox: Outbox, url: str | None = None) -> Message:
    result = await api.gql(REQUEST, {"email": "ana@example.com", "url": url})
    assert result == {"data": {"auth_password_request": True}}
    [message] = outbox.to("ana@example.com")
    return message


async def test_reset_by_email_end_to_end(api: Api, outbox: Outbox) -> None:
    await api.signup()
    old = await api.login()
    message = await _request(api, outbox)
    assert message["Subject"] == "Reset your password"
    assert _link(message).startswith("http://127.0.0.1:8000/auth/pages/reset-password?token=")
    token = _token(message)
    # Only the hash is stored.
    assert await OneTimeToken.filter(token_hash=hash_token(token)).count() == 1
    assert await OneTimeToken.filter(token_hash=token).count() == 0
    assert (await api.gql(RESET, {"token": token, "password": NEW_PASSWORD})) == {"data": {"auth_password_reset": True}}
    # Every session is revoked, the old password is gone, the new one works.
    assert codes(await api.gql("{ users_me { email } }", token=old["access_token"])) == ["INVALID_TOKEN"]
    assert await Session.filter(revoked_at=None).count() == 0
    assert codes(await api.gql(LOGIN, {"email": "ana@example.com", "password": "correct horse battery"})) == [
        "INVALID_CREDENTIALS"
    ]
    await api.login(password=NEW_PASSWORD)


async def test_a_reset_token_works_once(api: Api, outbox: Outbox) -> None:
    await api.signup()
    token = _token(await _request(api, outbox))
    await api.gql(RESET, {"token": token, "password": NEW_PASSWORD})
    replay = await api.gql(RESET, {"token": token, "password": "yet another passphrase"})
    assert codes(replay) == ["INVALID_TOKEN"]
    await api.login(password=NEW_PASSWORD)


async def test_an_expired_reset_token_is_token_expired(api: Api, outbox: Outbox) -> None:
    await api.signup()
    token = _token(await _request(api, outbox))
    await OneTimeToken.all().update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert codes(await api.gql(RESET, {"token": token, "password": NEW_PASSWORD})) == ["TOKEN_EXPIRED"]


async def test_a_weak_new_password_leaves_the_token_usable(api: Api, outbox: Outbox) -> None:
    await api.signup()
    token = _token(await _request(api, outbox))
    assert codes(await api.gql(RESET, {"token": token, "password": "short"})) == ["INVALID_PAYLOAD"]
    assert codes(await api.gql(RESET, {"token": token, "password": "x" * 300})) == ["INVALID_PAYLOAD"]
    assert (await api.gql(RESET, {"token": token, "password": NEW_PASSWORD}))["data"]["auth_password_reset"] is True


async def test_forged_and_malformed_reset_tokens_are_invalid(api: Api) -> None:
    for token in ("nope", "", "a" * 5000):
        assert codes(await api.gql(RESET, {"token": token, "password": NEW_PASSWORD})) == ["INVALID_TOKEN"]


async def test_unknown_email_answers_true_and_sends_nothing(api: Api, outbox: Outbox) -> None:
    result = await api.gql(REQUEST, {"email": "nobody@example.com"})
    assert result == {"data": {"auth_password_request": True}}
    assert outbox.messages == []


async def test_reset_url_must_be_allow_listed(app_with, smtp_server) -> None:  # type: ignore[no-untyped-def]
    outbox: Outbox = smtp_server.handler
    outbox.clear()
    async with app_with(
        PASSWORD_RESET_URL_ALLOW_LIST="https://app.example.com/reset",
        EMAIL_TRANSPORT="smtp",
        EMAIL_SMTP_HOST="127.0.0.1",
        EMAIL_SMTP_PORT=smtp_server.port,
    ) as api:
        await api.signup()
        for url in ("https://evil.example/reset", "https://app.example.com.evil.example/reset", "javascript:alert(1)"):
            result = await api.gql(REQUEST, {"email": "ana@example.com", "url": url})
            assert codes(result) == ["INVALID_PAYLOAD"], url
        # Refused the same way for unknown emails: nothing to learn.
        assert codes(await api.gql(REQUEST, {"email": "x@example.com", "url": "https://evil.example/"})) == [
            "INVALID_PAYLOAD"
        ]
        assert outbox.messages == []
        message = await _request(api, outbox, "https://app.example.com/reset")
        assert _link(message).startswith("https://app.example.com/reset?token=")


async def test_the_reset_page_sets_a_new_password(api: Api, outbox: Outbox) -> None:
    await api.signup()
    link = _link(await _request(api, outbox))
    form = await api.http.get(link)
    assert form.status_code == 200 and 'name="password"' in form.text
    token = link.split("token=")[1]
    done = await api.http.post(
        "/auth/pages/reset-password", data={"token": token, "password": NEW_PASSWORD, **csrf(form)}
    )
    assert done.status_code == 200 and "Password changed" in done.text
    again = await api.http.post(
        "/auth/pages/reset-password", data={"token": token, "password": NEW_PASSWORD, **csrf(form)}
    )
    assert again.status_code == 401 and "INVALID_TOKEN" in again.text
    await api.login(password=NEW_PASSWORD)


async def test_rest_password_request_and_reset(api: Api, outbox: Outbox) -> None:
    await api.signup()
    requested = await api.http.post("/auth/password/request", json={"email": "ana@example.com"})
    assert (requested.status_code, requested.content) == (204, b"")
    token = _token(outbox.to("ana@example.com")[0])
    reset = await api.http.post("/auth/password/reset", json={"token": token, "password": NEW_PASSWORD})
    assert reset.status_code == 204
    replay = await api.http.post("/auth/password/reset", json={"token": token, "password": NEW_PASSWORD})
    assert replay.status_code == 401 and replay.json()["errors"][0]["extensions"]["code"] == "INVALID_TOKEN"
    missing = await api.http.post("/auth/password/reset", json={"token": token})
    assert missing.status_code == 400


async def test_mail_server_down_leaves_no_usable_token(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(EMAIL_TRANSPORT="smtp", EMAIL_SMTP_HOST="127.0.0.1", EMAIL_SMTP_PORT=1) as api:
        await api.signup()
        result = await api.gql(REQUEST, {"email": "ana@example.com"})
        assert result == {"data": {"auth_password_request": True}}
        assert await OneTimeToken.all().count() == 0


async def test_racing_resets_with_one_token_succeed_once(api: Api, outbox: Outbox) -> None:
    import asyncio

    await api.signup()
    token = _token(await _request(api, outbox))
    passwords = [f"racing passphrase {i}" for i in range(4)]
    results = await asyncio.gather(*(api.gql(RESET, {"token": token, "password": p}) for p in passwords))
    winners = [p for p, r in zip(passwords, results, strict=True) if not r.get("errors")]
    assert len(winners) == 1
    assert all(codes(r) == ["INVALID_TOKEN"] for r in results if r.get("errors"))
    await api.login(password=winners[0])


async def test_requests_for_known_and_unknown_emails_take_the_stall_time(app_with) -> None:  # type: ignore[no-untyped-def]
    import time

    async with app_with(login_stall_time=0.3) as api:
        await api.signup()
        for email in ("ana@example.com", "nobody@example.com"):
            started = time.monotonic()
            assert (await api.gql(REQUEST, {"email": email})) == {"data": {"auth_password_request": True}}
            assert time.monotonic() - started >= 0.3, email
