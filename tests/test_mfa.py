from __future__ import annotations

import time

import pyotp
import pytest

from app.models import RecoveryCode, User
from tests.conftest import LOGIN, Api, codes, flush_redis_db, redis_up, update_user

GENERATE = "mutation($p: String!) { users_me_tfa_generate(password: $p) { secret otpauth_url } }"
ENABLE = "mutation($otp: String!, $secret: String!) { users_me_tfa_enable(otp: $otp, secret: $secret) }"
DISABLE = "mutation($otp: String!) { users_me_tfa_disable(otp: $otp) }"
RECOVERY = "mutation($otp: String!) { users_me_tfa_recovery_codes(otp: $otp) }"
PASSWORD = "correct horse battery"


def code_at(secret: str, offset_steps: int) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


async def login(api: Api, otp: str | None = None) -> dict:  # type: ignore[type-arg]
    return await api.gql(LOGIN, {"email": "ana@example.com", "password": PASSWORD, "otp": otp})


async def enabled(api: Api) -> tuple[str, str]:
    """Sign up, sign in, enable MFA; (access token, secret). Uses the previous step's code
    so that the current one is still fresh for the test."""
    await api.signup()
    token = (await api.login())["access_token"]
    generated = (await api.gql(GENERATE, {"p": PASSWORD}, token=token))["data"]["users_me_tfa_generate"]
    secret = generated["secret"]
    result = await api.gql(ENABLE, {"otp": code_at(secret, -1), "secret": secret}, token=token)
    assert result == {"data": {"users_me_tfa_enable": True}}, result
    return token, secret


async def test_generate_needs_the_password_and_returns_an_otpauth_url(api: Api) -> None:
    await api.signup()
    token = (await api.login())["access_token"]
    wrong = await api.gql(GENERATE, {"p": "not my password"}, token=token)
    assert codes(wrong) == ["INVALID_CREDENTIALS"]
    result = (await api.gql(GENERATE, {"p": PASSWORD}, token=token))["data"]["users_me_tfa_generate"]
    assert result["otpauth_url"].startswith("otpauth://totp/") and result["secret"] in result["otpauth_url"]
    assert codes(await api.gql(GENERATE, {"p": PASSWORD})) == ["FORBIDDEN"]


async def test_enable_needs_a_valid_code(api: Api) -> None:
    await api.signup()
    token = (await api.login())["access_token"]
    secret = (await api.gql(GENERATE, {"p": PASSWORD}, token=token))["data"]["users_me_tfa_generate"]["secret"]
    assert codes(await api.gql(ENABLE, {"otp": "000000", "secret": secret}, token=token)) == ["INVALID_OTP"]
    assert codes(await api.gql(ENABLE, {"otp": "12", "secret": secret}, token=token)) == ["INVALID_OTP"]
    assert codes(await api.gql(ENABLE, {"otp": "123456", "secret": "not base32!"}, token=token)) == ["INVALID_PAYLOAD"]
    assert not (await User.get(email="ana@example.com")).tfa_enabled


async def test_secret_is_encrypted_at_rest(api: Api) -> None:
    _, secret = await enabled(api)
    stored = (await User.get(email="ana@example.com")).tfa_secret
    assert stored is not None and secret not in stored


async def test_login_then_needs_a_fresh_code(api: Api) -> None:
    _, secret = await enabled(api)
    assert codes(await login(api)) == ["INVALID_OTP"]
    assert codes(await login(api, "000000")) == ["INVALID_OTP"]
    code = code_at(secret, 0)
    ok = await login(api, code)
    assert ok["data"]["auth_login"]["access_token"]
    # The same code again (inside its window) is refused: no replay.
    assert codes(await login(api, code)) == ["INVALID_OTP"]
    # An older step than the last accepted one is refused too.
    assert codes(await login(api, code_at(secret, -1))) == ["INVALID_OTP"]


async def test_wrong_password_with_mfa_is_still_invalid_credentials(api: Api) -> None:
    _, secret = await enabled(api)
    result = await api.gql(LOGIN, {"email": "ana@example.com", "password": "wrong password", "otp": code_at(secret, 0)})
    assert codes(result) == ["INVALID_CREDENTIALS"]


async def test_rest_login_takes_the_otp(api: Api) -> None:
    _, secret = await enabled(api)
    body = {"email": "ana@example.com", "password": PASSWORD}
    missing = await api.http.post("/auth/login", json=body)
    assert (missing.status_code, missing.json()["errors"][0]["extensions"]["code"]) == (401, "INVALID_OTP")
    ok = await api.http.post("/auth/login", json=body | {"otp": code_at(secret, 0)})
    assert ok.status_code == 200


async def test_recovery_codes_are_single_use_and_stored_hashed(api: Api) -> None:
    token, secret = await enabled(api)
    result = await api.gql(RECOVERY, {"otp": code_at(secret, 0)}, token=token)
    recovery = result["data"]["users_me_tfa_recovery_codes"]
    assert len(recovery) == len(set(recovery)) == 10
    stored = [r.code_hash for r in await RecoveryCode.all()]
    assert len(stored) == 10 and not set(recovery) & set(stored)
    assert (await login(api, recovery[0].upper()))["data"]["auth_login"]["access_token"]
    assert codes(await login(api, recovery[0])) == ["INVALID_OTP"]
    assert (await login(api, recovery[1]))["data"]["auth_login"]["access_token"]


async def test_disable_needs_a_code_and_removes_the_factor(api: Api) -> None:
    token, secret = await enabled(api)
    assert codes(await api.gql(DISABLE, {"otp": "000000"}, token=token)) == ["INVALID_OTP"]
    assert (await api.gql(DISABLE, {"otp": code_at(secret, 0)}, token=token)) == {
        "data": {"users_me_tfa_disable": True}
    }
    assert (await login(api))["data"]["auth_login"]["access_token"]
    assert await RecoveryCode.all().count() == 0
    me = await api.gql("{ users_me { tfa_enabled } }", token=token)
    assert me["data"]["users_me"]["tfa_enabled"] is False


async def test_enabling_twice_is_refused(api: Api) -> None:
    token, secret = await enabled(api)
    result = await api.gql(ENABLE, {"otp": code_at(secret, 1), "secret": secret}, token=token)
    assert codes(result) == ["INVALID_PAYLOAD"]
    assert codes(await api.gql(GENERATE, {"p": PASSWORD}, token=token)) == ["INVALID_PAYLOAD"]


async def test_signin_user_email_path_also_needs_the_factor(api: Api) -> None:
    await enabled(api)
    result = await api.gql(
        'mutation { signinUser(email: {email: "ana@example.com", password: "correct horse battery"}) { token } }'
    )
    assert codes(result) == ["INVALID_OTP"]


async def test_racing_logins_with_one_code_succeed_once(api: Api) -> None:
    import asyncio

    _, secret = await enabled(api)
    code = code_at(secret, 0)
    results = await asyncio.gather(*(login(api, code) for _ in range(4)))
    assert sum(1 for r in results if not r.get("errors")) == 1
    assert all(codes(r) == ["INVALID_OTP"] for r in results if r.get("errors"))


async def test_guessing_codes_or_passwords_while_signed_in_is_limited(api: Api) -> None:
    token, secret = await enabled(api)
    # Ten wrong answers per account; the right password and code that enabled it spent none.
    for _ in range(10):
        assert codes(await api.gql(DISABLE, {"otp": "000000"}, token=token)) == ["INVALID_OTP"]
    locked = await api.gql(DISABLE, {"otp": code_at(secret, 0)}, token=token)
    assert codes(locked) == ["REQUESTS_EXCEEDED"]
    # The same budget covers password re-authentication.
    assert codes(await api.gql(GENERATE, {"p": "not my password"}, token=token)) == ["REQUESTS_EXCEEDED"]
    assert (await User.get(email="ana@example.com")).tfa_enabled


@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_guesses_sent_at_once_cannot_outrun_the_budget(app_with, store: str) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    environ: dict[str, str] = {}
    if store == "redis":
        if not redis_up():
            pytest.skip("needs Redis on 127.0.0.1:6379")
        await flush_redis_db(13)
        environ = {"RATE_LIMITER_STORE": "redis", "RATE_LIMITER_REDIS": "redis://127.0.0.1:6379/13"}
    async with app_with(**environ) as api:
        await api.signup()
        token = (await api.login())["access_token"]
        # Right passwords do not spend the budget, even in flight with wrong ones.
        for _ in range(3):
            assert "errors" not in await api.gql(GENERATE, {"p": PASSWORD}, token=token)
        guesses = [api.gql(GENERATE, {"p": f"guess number {i}"}, token=token) for i in range(25)]
        outcomes = [codes(r) for r in await asyncio.gather(*guesses)]
        assert outcomes.count(["INVALID_CREDENTIALS"]) == 10, outcomes
        assert outcomes.count(["REQUESTS_EXCEEDED"]) == 15
        assert codes(await api.gql(GENERATE, {"p": PASSWORD}, token=token)) == ["REQUESTS_EXCEEDED"]


# --- enable accepts only the secret generate made ----------------------------------------

REFRESH = "mutation($t: String) { auth_refresh(refresh_token: $t) { access_token } }"


async def test_a_stolen_access_token_cannot_turn_mfa_on_with_its_own_secret(api: Api) -> None:
    # The token alone (no password): with a secret of the thief's choosing, enabling would
    # lock the owner out for good (a reset does not clear MFA).
    await api.signup()
    stolen = (await api.login())["access_token"]
    mine = pyotp.random_base32()
    result = await api.gql(ENABLE, {"otp": pyotp.TOTP(mine).now(), "secret": mine}, token=stolen)
    assert codes(result) == ["INVALID_PAYLOAD"]
    assert codes(await api.gql(RECOVERY, {"otp": pyotp.TOTP(mine).now()}, token=stolen)) == ["INVALID_PAYLOAD"]
    user = await User.get(email="ana@example.com")
    assert not user.tfa_enabled and await RecoveryCode.all().count() == 0
    assert (await login(api))["data"]["auth_login"]["access_token"]


async def test_enable_takes_only_the_pending_secret(api: Api) -> None:
    await api.signup()
    token = (await api.login())["access_token"]
    generated = (await api.gql(GENERATE, {"p": PASSWORD}, token=token))["data"]["users_me_tfa_generate"]["secret"]
    stored = (await User.get(email="ana@example.com")).tfa_pending_secret
    assert stored is not None and generated not in stored  # kept sealed
    # While a secret is pending, another one (valid base32, right code) is still refused.
    other = pyotp.random_base32()
    assert codes(await api.gql(ENABLE, {"otp": pyotp.TOTP(other).now(), "secret": other}, token=token)) == [
        "INVALID_PAYLOAD"
    ]
    # A newer generate replaces the pending secret: the first one is void.
    newer = (await api.gql(GENERATE, {"p": PASSWORD}, token=token))["data"]["users_me_tfa_generate"]["secret"]
    assert newer != generated
    assert codes(await api.gql(ENABLE, {"otp": code_at(generated, 0), "secret": generated}, token=token)) == [
        "INVALID_PAYLOAD"
    ]
    assert not (await User.get(email="ana@example.com")).tfa_enabled
    ok = await api.gql(ENABLE, {"otp": code_at(newer, 0), "secret": newer}, token=token)
    assert ok == {"data": {"users_me_tfa_enable": True}}, ok
    assert (await User.get(email="ana@example.com")).tfa_pending_secret is None


async def test_a_pending_secret_is_used_once(api: Api) -> None:
    token, secret = await enabled(api)
    assert (await api.gql(DISABLE, {"otp": code_at(secret, 0)}, token=token))["data"]["users_me_tfa_disable"]
    # The same secret again, without a new generate: refused.
    result = await api.gql(ENABLE, {"otp": code_at(secret, 1), "secret": secret}, token=token)
    assert codes(result) == ["INVALID_PAYLOAD"]
    assert not (await User.get(email="ana@example.com")).tfa_enabled


async def test_a_pending_secret_expires_after_15_minutes(api: Api) -> None:
    import base64

    from cryptography.fernet import Fernet

    from app.auth.secrets import derive_key
    from tests.conftest import TEST_SECRET

    await api.signup()
    token = (await api.login())["access_token"]
    secret = (await api.gql(GENERATE, {"p": PASSWORD}, token=token))["data"]["users_me_tfa_generate"]["secret"]
    # The seal carries the time it was made; make it as if generate ran minutes ago.
    box = Fernet(base64.urlsafe_b64encode(derive_key(TEST_SECRET, "tfa-pending-secret")))
    for minutes_ago, expected in ((16, ["INVALID_PAYLOAD"]), (14, [])):
        sealed = box.encrypt_at_time(secret.encode(), int(time.time()) - minutes_ago * 60).decode()
        await update_user("ana@example.com", tfa_pending_secret=sealed)
        result = await api.gql(ENABLE, {"otp": code_at(secret, 0), "secret": secret}, token=token)
        assert codes(result) == expected, (minutes_ago, result)
    assert (await User.get(email="ana@example.com")).tfa_enabled


async def test_racing_enables_with_one_secret_enable_once(api: Api) -> None:
    import asyncio

    await api.signup()
    token = (await api.login())["access_token"]
    secret = (await api.gql(GENERATE, {"p": PASSWORD}, token=token))["data"]["users_me_tfa_generate"]["secret"]
    variables = [{"otp": code_at(secret, step), "secret": secret} for step in (-1, 0, 1)]
    results = await asyncio.gather(*(api.gql(ENABLE, v, token=token) for v in variables))
    assert sum(1 for r in results if not r.get("errors")) == 1, results


async def test_enabling_signs_out_the_other_sessions(api: Api) -> None:
    await api.signup()
    other = await api.login()
    token = (await api.login())["access_token"]
    secret = (await api.gql(GENERATE, {"p": PASSWORD}, token=token))["data"]["users_me_tfa_generate"]["secret"]
    enabled = await api.gql(ENABLE, {"otp": code_at(secret, 0), "secret": secret}, token=token)
    assert enabled == {"data": {"users_me_tfa_enable": True}}
    assert codes(await api.gql("{ users_me { id } }", token=other["access_token"])) == ["INVALID_TOKEN"]
    assert codes(await api.gql(REFRESH, {"t": other["refresh_token"]})) == ["INVALID_TOKEN"]
    assert (await api.gql("{ users_me { tfa_enabled } }", token=token))["data"]["users_me"]["tfa_enabled"] is True
