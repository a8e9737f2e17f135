"""Guessing budgets: drawn before each check, so concurrent requests cannot overrun them; a
right answer neither spends nor reopens them; every code check of an account shares one budget;
device cookies keep the owner's browser out of an attacker's lockout."""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections import Counter
from typing import Any

import pyotp
import pytest

from app.auth.devices import DeviceCookies
from app.auth.secrets import SecretBox
from app.http.cookies import DEVICE as COOKIE_NAME
from app.models import AuditEvent, User
from tests.conftest import LOGIN, TEST_SECRET, Api, Outbox, another_client, codes, flush_redis_db, redis_up, text_of

LIMIT = 10  # LOGIN_ATTEMPTS_PER_ACCOUNT's default, and the budget for code checks
PASSWORD = "correct horse battery"
WRONG = {"email": "ana@example.com", "password": "wrong password"}
RIGHT = {"email": "ana@example.com", "password": PASSWORD}
MAGIC_REQUEST = "mutation($email: String!) { auth_magic_link_request(email: $email) }"
MAGIC_LOGIN = """
mutation($token: String!, $otp: String) {
  auth_magic_link_login(token: $token, otp: $otp) { access_token }
}"""
GENERATE = "mutation($p: String!) { users_me_tfa_generate(password: $p) { secret } }"
ENABLE = "mutation($otp: String!, $secret: String!) { users_me_tfa_enable(otp: $otp, secret: $secret) }"
DISABLE = "mutation($otp: String!) { users_me_tfa_disable(otp: $otp) }"
RECOVERY = "mutation($otp: String!) { users_me_tfa_recovery_codes(otp: $otp) }"


def answers(results: list[dict[str, Any]]) -> Counter[str]:
    return Counter(codes(r)[0] if r.get("errors") else "OK" for r in results)


async def with_second_factor(email: str = "ana@example.com") -> str:
    """Turn MFA on directly in the database (drawing on no budget); the TOTP secret."""
    secret = pyotp.random_base32()
    await User.filter(email=email).update(tfa_secret=SecretBox(TEST_SECRET).seal(secret))
    return secret


async def magic_token(api: Api, outbox: Outbox) -> str:
    outbox.clear()
    await api.gql(MAGIC_REQUEST, {"email": "ana@example.com"})
    body = text_of(outbox.to("ana@example.com")[-1])
    return re.search(r"token=(\S+)", body).group(1)  # type: ignore[union-attr]


# --- passwords at sign-in ---------------------------------------------------------------


async def test_concurrent_wrong_passwords_cannot_overrun_the_budget(api: Api) -> None:
    await api.signup()
    results = await asyncio.gather(*(api.gql(LOGIN, WRONG) for _ in range(30)))
    assert answers(results) == {"INVALID_CREDENTIALS": LIMIT, "REQUESTS_EXCEEDED": 30 - LIMIT}
    failed = await AuditEvent.filter(action="login.failed")
    assert sum(1 for e in failed if (e.detail or {}).get("code") == "INVALID_CREDENTIALS") == LIMIT
    assert COOKIE_NAME not in api.http.cookies
    locked = await api.gql(LOGIN, RIGHT)
    assert codes(locked) == ["REQUESTS_EXCEEDED"] and locked["errors"][0]["extensions"]["retry_after"] > 0


@pytest.mark.skipif(not redis_up(), reason="needs Redis on 127.0.0.1:6379")
async def test_the_budget_holds_under_concurrency_in_redis_too(app_with) -> None:  # type: ignore[no-untyped-def]
    await flush_redis_db(12)
    async with app_with(RATE_LIMITER_STORE="redis", RATE_LIMITER_REDIS="redis://127.0.0.1:6379/12") as api:
        await api.signup()
        results = await asyncio.gather(*(api.gql(LOGIN, WRONG) for _ in range(30)))
        assert answers(results) == {"INVALID_CREDENTIALS": LIMIT, "REQUESTS_EXCEEDED": 30 - LIMIT}
        assert codes(await api.gql(LOGIN, RIGHT)) == ["REQUESTS_EXCEEDED"]


async def test_a_right_password_neither_spends_nor_reopens_the_budget(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(LOGIN_ATTEMPTS_PER_ACCOUNT=3) as api:
        await api.signup()
        async with another_client(api) as attacker, another_client(api) as owner:
            for _ in range(2):
                assert codes(await attacker.gql(LOGIN, WRONG)) == ["INVALID_CREDENTIALS"]
            # Right answers neither spend the budget nor clear it: the attacker still has
            # exactly one wrong guess left, however often the owner signs in meanwhile.
            for _ in range(5):
                await owner.login()
            assert codes(await attacker.gql(LOGIN, WRONG)) == ["INVALID_CREDENTIALS"]
            assert codes(await attacker.gql(LOGIN, WRONG)) == ["REQUESTS_EXCEEDED"]


# --- codes: one budget per account, wherever they are typed ----------------------------


async def test_magic_link_codes_are_limited(api: Api, outbox: Outbox) -> None:
    await api.signup()
    secret = await with_second_factor()
    token = await magic_token(api, outbox)
    results = [await api.gql(MAGIC_LOGIN, {"token": token, "otp": "000000"}) for _ in range(25)]
    assert [codes(r)[0] for r in results] == ["INVALID_OTP"] * LIMIT + ["REQUESTS_EXCEEDED"] * (25 - LIMIT)
    right = await api.gql(MAGIC_LOGIN, {"token": token, "otp": pyotp.TOTP(secret).now()})
    assert codes(right) == ["REQUESTS_EXCEEDED"]


async def test_concurrent_magic_link_codes_cannot_overrun_the_budget(api: Api, outbox: Outbox) -> None:
    await api.signup()
    await with_second_factor()
    token = await magic_token(api, outbox)
    results = await asyncio.gather(*(api.gql(MAGIC_LOGIN, {"token": token, "otp": "000000"}) for _ in range(30)))
    assert answers(results) == {"INVALID_OTP": LIMIT, "REQUESTS_EXCEEDED": 30 - LIMIT}


async def test_concurrent_codes_at_password_sign_in_cannot_overrun_the_budget(app_with) -> None:  # type: ignore[no-untyped-def]
    # A generous password budget, so that only the budget for codes is in play.
    async with app_with(LOGIN_ATTEMPTS_PER_ACCOUNT=100) as api:
        await api.signup()
        secret = await with_second_factor()
        results = await asyncio.gather(*(api.gql(LOGIN, {**RIGHT, "otp": "000000"}) for _ in range(30)))
        assert answers(results) == {"INVALID_OTP": LIMIT, "REQUESTS_EXCEEDED": 30 - LIMIT}
        assert codes(await api.gql(LOGIN, {**RIGHT, "otp": pyotp.TOTP(secret).now()})) == ["REQUESTS_EXCEEDED"]


async def test_every_code_check_of_an_account_draws_on_one_budget(api: Api, outbox: Outbox) -> None:
    await api.signup()
    secret = await with_second_factor()
    async with another_client(api) as first:
        signed_in = await first.gql(LOGIN, {**RIGHT, "otp": pyotp.TOTP(secret).now()})  # right: not counted
    token = signed_in["data"]["auth_login"]["access_token"]
    for _ in range(4):  # 4
        assert codes(await api.gql(LOGIN, {**RIGHT, "otp": "000000"})) == ["INVALID_OTP"]
    link = await magic_token(api, outbox)
    for _ in range(3):  # 7
        assert codes(await api.gql(MAGIC_LOGIN, {"token": link, "otp": "000000"})) == ["INVALID_OTP"]
    for _ in range(3):  # 10, while signed in
        assert codes(await api.gql(DISABLE, {"otp": "000000"}, token=token)) == ["INVALID_OTP"]
    now = pyotp.TOTP(secret).now()
    assert codes(await api.gql(RECOVERY, {"otp": now}, token=token)) == ["REQUESTS_EXCEEDED"]
    assert codes(await api.gql(MAGIC_LOGIN, {"token": link, "otp": now})) == ["REQUESTS_EXCEEDED"]
    # Passwords while signed in are checks about the same known account.
    assert codes(await api.gql(GENERATE, {"p": PASSWORD}, token=token)) == ["REQUESTS_EXCEEDED"]


@pytest.mark.parametrize("mutation", ["generate", "enable", "disable", "recovery"])
async def test_concurrent_checks_while_signed_in_cannot_overrun_the_budget(api: Api, mutation: str) -> None:
    await api.signup()
    token = (await api.login())["access_token"]
    api.http.cookies.clear()  # the shared budget, not this browser's own
    if mutation in ("disable", "recovery"):
        await with_second_factor()
    pending = ""
    if mutation == "enable":
        pending = (await api.gql(GENERATE, {"p": PASSWORD}, token=token))["data"]["users_me_tfa_generate"]["secret"]
    query, variables = {
        "generate": (GENERATE, {"p": "not my password"}),
        "enable": (ENABLE, {"otp": "000000", "secret": pending}),
        "disable": (DISABLE, {"otp": "000000"}),
        "recovery": (RECOVERY, {"otp": "000000"}),
    }[mutation]
    results = await asyncio.gather(*(api.gql(query, variables, token=token) for _ in range(30)))
    wrong = "INVALID_CREDENTIALS" if mutation == "generate" else "INVALID_OTP"
    assert answers(results) == {wrong: LIMIT, "REQUESTS_EXCEEDED": 30 - LIMIT}


# --- device cookies ----------------------------------------------------------------------


async def test_every_sign_in_sets_a_device_cookie(api: Api, outbox: Outbox) -> None:
    await api.signup()
    # A proven address: the first magic link of an unproven one would end the other sessions.
    await User.filter(email="ana@example.com").update(email_verified=True)
    rest = await api.http.post("/auth/login", json=RIGHT)
    cookie = rest.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=") and "HttpOnly" in cookie and "Path=/" in cookie
    assert "SameSite=lax" in cookie and "Max-Age=31536000" in cookie and "Secure" not in cookie
    api.http.cookies.clear()
    graphql = await api.raw_gql(LOGIN, {**RIGHT, "mode": "json"})  # any mode: it is no credential
    assert f"{COOKIE_NAME}=" in graphql.headers["set-cookie"]
    api.http.cookies.clear()
    magic = await api.raw_gql(MAGIC_LOGIN, {"token": await magic_token(api, outbox)})
    assert f"{COOKIE_NAME}=" in magic.headers["set-cookie"]
    # Refreshing is no sign-in.
    refreshed = await api.http.post("/auth/refresh", json={"refresh_token": rest.json()["data"]["refresh_token"]})
    assert refreshed.status_code == 200 and COOKIE_NAME not in refreshed.headers.get("set-cookie", "")


async def test_the_device_cookie_is_secure_on_https(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(PUBLIC_URL="https://auth.example.com") as api:
        await api.signup()
        cookie = (await api.http.post("/auth/login", json=RIGHT)).headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE_NAME}=") and "Secure" in cookie


async def test_the_owners_browser_signs_in_while_an_attacker_is_locked_out(api: Api) -> None:
    await api.signup()
    await api.login()  # the owner's browser now holds a device cookie
    async with another_client(api, "203.0.113.9") as attacker:
        outcomes = [codes(await attacker.gql(LOGIN, WRONG))[0] for _ in range(LIMIT + 1)]
        assert outcomes == ["INVALID_CREDENTIALS"] * LIMIT + ["REQUESTS_EXCEEDED"]
        assert codes(await attacker.gql(LOGIN, RIGHT)) == ["REQUESTS_EXCEEDED"]
    assert (await api.login())["access_token"]
    assert (await api.http.post("/auth/login", json=RIGHT)).status_code == 200


async def test_the_owners_browser_keeps_its_own_budget_for_codes(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(LOGIN_ATTEMPTS_PER_ACCOUNT=100) as api:  # only codes in play
        await api.signup()
        secret = await with_second_factor()
        first = await api.gql(LOGIN, {**RIGHT, "otp": pyotp.TOTP(secret).at(time.time() - 30)})
        assert first["data"]["auth_login"]
        async with another_client(api) as attacker:  # knows the password, guesses codes
            for _ in range(LIMIT):
                assert codes(await attacker.gql(LOGIN, {**RIGHT, "otp": "000000"})) == ["INVALID_OTP"]
            assert codes(await attacker.gql(LOGIN, {**RIGHT, "otp": "000000"})) == ["REQUESTS_EXCEEDED"]
        assert (await api.gql(LOGIN, {**RIGHT, "otp": pyotp.TOTP(secret).now()}))["data"]["auth_login"]


async def test_a_device_cookie_of_another_account_or_tampered_gives_no_trust(api: Api) -> None:
    await api.signup()
    await api.signup("bo@example.com")
    ana = (await User.get(email="ana@example.com")).id
    async with another_client(api) as owner, another_client(api) as bo, another_client(api) as attacker:
        await owner.login()
        await bo.login("bo@example.com")
        for _ in range(LIMIT):
            await attacker.gql(LOGIN, WRONG)
        # Bo's browser is trusted for Bo, not for Ana.
        assert codes(await bo.gql(LOGIN, RIGHT)) == ["REQUESTS_EXCEEDED"]
        bo_cookie = bo.http.cookies[COOKIE_NAME]
        ana_cookie = owner.http.cookies[COOKIE_NAME]
        flipped = "A" if ana_cookie[30] != "A" else "B"
        forged = [
            ana_cookie[:30] + flipped + ana_cookie[31:],  # Ana's entry with one character changed
            ana_cookie[:-2] + ("AA" if ana_cookie[-2:] != "AA" else "BB"),  # ... with a broken tag
            ana_cookie[:-4],  # ... cut short
            DeviceCookies("another-secret-" + "y" * 40).remember(None, ana),  # sealed under another key
            f"{ana}.{bo_cookie[:16]}.",  # the old clear-text form, unsigned
            "garbage",
        ]
        for value in forged:
            attacker.http.cookies.set(COOKIE_NAME, value)
            assert codes(await attacker.gql(LOGIN, RIGHT)) == ["REQUESTS_EXCEEDED"], value
        assert (await owner.login())["access_token"]
        # One cookie names up to five accounts: signing in as Bo keeps Ana's entry.
        await owner.login("bo@example.com")
        assert len(owner.http.cookies[COOKIE_NAME].split("~")) == 2
        assert (await owner.login())["access_token"]


async def test_the_device_cookie_does_not_name_the_account(api: Api) -> None:
    # Whoever sees the cookie (a shared computer, a proxy's log) must not learn which
    # accounts signed in on that browser.
    await api.signup()
    await api.signup("bo@example.com")
    ids = [(await User.get(email=e)).id for e in ("ana@example.com", "bo@example.com")]
    await api.login()
    await api.login("bo@example.com")
    cookie = api.http.cookies[COOKIE_NAME]
    entries = cookie.split("~")
    assert len(entries) == 2
    for user_id in ids:
        assert str(user_id) not in cookie and user_id.hex not in cookie.lower()
        for entry in entries:
            raw = base64.urlsafe_b64decode(entry + "=" * (-len(entry) % 4))
            assert user_id.bytes not in raw
    # Two sign-ins to one account never give the same entry (nothing to link them by).
    await api.login()
    assert api.http.cookies[COOKIE_NAME].split("~")[0] != entries[1]


async def test_a_stolen_device_cookie_is_limited_on_its_own(api: Api) -> None:
    await api.signup()
    async with another_client(api) as owner, another_client(api) as thief, another_client(api) as laptop:
        await owner.login()
        await laptop.login()
        thief.http.cookies.set(COOKIE_NAME, owner.http.cookies[COOKIE_NAME])
        assert [codes(await thief.gql(LOGIN, WRONG))[0] for _ in range(LIMIT + 1)] == [
            "INVALID_CREDENTIALS"
        ] * LIMIT + ["REQUESTS_EXCEEDED"]
        assert codes(await thief.gql(LOGIN, RIGHT)) == ["REQUESTS_EXCEEDED"]
        # The owner's other browser and browsers without a cookie each have their own.
        assert (await laptop.login())["access_token"]
        assert (await api.login())["access_token"]
