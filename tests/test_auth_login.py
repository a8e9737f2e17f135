from __future__ import annotations

import asyncio
import threading
import time

import bcrypt

from app.models import Status, User
from tests.conftest import LOGIN, Api, codes


async def test_login_returns_both_tokens_and_expires_in_ms_as_a_digit_string(api: Api) -> None:
    await api.signup()
    tokens = await api.login()
    assert tokens["access_token"].count(".") == 2
    assert tokens["refresh_token"]
    assert tokens["expires"] == "900000"
    me = await api.gql("{ users_me { email role status } user { email } }", token=tokens["access_token"])
    assert me == {
        "data": {
            "users_me": {"email": "ana@example.com", "role": "user", "status": "active"},
            "user": {"email": "ana@example.com"},
        }
    }


async def test_wrong_password_and_unknown_email_look_alike(api: Api) -> None:
    await api.signup()
    wrong = await api.gql(LOGIN, {"email": "ana@example.com", "password": "wrong password"})
    unknown = await api.gql(LOGIN, {"email": "nobody@example.com", "password": "wrong password"})
    assert codes(wrong) == codes(unknown) == ["INVALID_CREDENTIALS"]
    assert wrong["errors"][0]["message"] == unknown["errors"][0]["message"]
    assert wrong["data"] == unknown["data"] == {"auth_login": None}


async def test_malformed_email_is_invalid_payload(api: Api) -> None:
    for email in ("not-an-email", "", "a@b", "x" * 300 + "@example.com"):
        result = await api.gql(LOGIN, {"email": email, "password": "whatever123"})
        assert codes(result) == ["INVALID_PAYLOAD"], email


async def test_missing_argument_is_graphql_validation(api: Api) -> None:
    result = await api.gql('mutation { auth_login(email: "a@b.co") { access_token } }')
    assert codes(result) == ["GRAPHQL_VALIDATION"]


async def test_wrong_variable_type_is_graphql_validation(api: Api) -> None:
    result = await api.gql(LOGIN, {"email": 12, "password": ["x"]})
    assert codes(result) and set(codes(result)) == {"GRAPHQL_VALIDATION"}


async def test_a_one_megabyte_password_is_refused_before_hashing(api: Api) -> None:
    await api.signup()
    started = time.monotonic()
    result = await api.gql(LOGIN, {"email": "ana@example.com", "password": "a" * 1_000_000})
    assert codes(result) == ["INVALID_PAYLOAD"]
    assert time.monotonic() - started < 5


async def test_an_oversized_body_is_refused_with_413(api: Api) -> None:
    response = await api.raw_gql(LOGIN, {"email": "a@b.co", "password": "a" * 3_000_000})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "INVALID_PAYLOAD"


async def test_email_case_and_unicode_are_normalised(api: Api) -> None:
    await api.signup("Ána.Ñúñez@Example.COM", "correct horse battery")
    tokens = await api.login("ána.ñúñez@example.com", "correct horse battery")
    assert tokens["access_token"]
    # NFD input (a + combining acute) is the same account as NFC.
    decomposed = "A\u0301na.N\u0303u\u0301n\u0303ez@example.com"
    assert (await api.login(decomposed, "correct horse battery"))["access_token"]


async def test_suspended_user_cannot_sign_in(api: Api) -> None:
    await api.signup()
    await User.filter(email="ana@example.com").update(status=Status.suspended)
    result = await api.gql(LOGIN, {"email": "ana@example.com", "password": "correct horse battery"})
    assert codes(result) == ["USER_SUSPENDED"]


async def test_suspended_user_with_wrong_password_gets_invalid_credentials(api: Api) -> None:
    await api.signup()
    await User.filter(email="ana@example.com").update(status=Status.suspended)
    result = await api.gql(LOGIN, {"email": "ana@example.com", "password": "not the password"})
    assert codes(result) == ["INVALID_CREDENTIALS"]


async def test_bcrypt_hash_from_elsewhere_verifies_and_is_upgraded(api: Api) -> None:
    legacy = bcrypt.hashpw(b"imported password", bcrypt.gensalt(4)).decode()
    await User.create(email="old@example.com", password_hash=legacy)
    await api.login("old@example.com", "imported password")
    user = await User.get(email="old@example.com")
    assert user.password_hash is not None and user.password_hash.startswith("$argon2id$")
    await api.login("old@example.com", "imported password")


async def test_changed_argon2_parameters_rehash_on_login(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(argon2_time_cost=2) as api:
        await api.signup()
        before = (await User.get(email="ana@example.com")).password_hash
        assert before is not None and "t=2" in before
        # A hash with the current parameters is kept (no rewrite on every sign-in).
        await api.login()
        assert (await User.get(email="ana@example.com")).password_hash == before
    async with app_with(argon2_time_cost=3) as api:
        await User.create(email="ana@example.com", password_hash=before)
        await api.login()
        after = (await User.get(email="ana@example.com")).password_hash
        assert after is not None and "t=3" in after
        await api.login()  # the new hash is the password's


async def test_account_with_a_second_factor_needs_an_otp(api: Api) -> None:
    await api.signup()
    await User.filter(email="ana@example.com").update(tfa_secret="enabled")
    result = await api.gql(LOGIN, {"email": "ana@example.com", "password": "correct horse battery"})
    assert codes(result) == ["INVALID_OTP"]


async def test_login_stall_time_applies_to_failures(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(login_stall_time=0.3) as api:
        started = time.monotonic()
        result = await api.gql(LOGIN, {"email": "nobody@example.com", "password": "whatever123"})
        assert codes(result) == ["INVALID_CREDENTIALS"]
        assert time.monotonic() - started >= 0.3


async def test_rest_login_answers_directus_shape(api: Api) -> None:
    await api.signup()
    response = await api.http.post(
        "/auth/login", json={"email": "ana@example.com", "password": "correct horse battery"}
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert set(data) == {"access_token", "expires", "refresh_token"}
    assert data["expires"] == 900000


async def test_rest_login_errors_carry_code_and_status(api: Api) -> None:
    wrong = await api.http.post("/auth/login", json={"email": "x@example.com", "password": "nope-nope"})
    assert wrong.status_code == 401
    assert wrong.json() == {
        "errors": [{"message": "Invalid user credentials.", "extensions": {"code": "INVALID_CREDENTIALS"}}]
    }
    missing = await api.http.post("/auth/login", json={"email": "x@example.com"})
    assert (missing.status_code, missing.json()["errors"][0]["extensions"]["code"]) == (400, "INVALID_PAYLOAD")
    garbage = await api.http.post("/auth/login", content=b"{not json", headers={"content-type": "application/json"})
    assert (garbage.status_code, garbage.json()["errors"][0]["extensions"]["code"]) == (400, "INVALID_PAYLOAD")
    typed = await api.http.post("/auth/login", json={"email": ["x"], "password": 5})
    assert typed.status_code == 400
    mode = await api.http.post("/auth/login", json={"email": "x@example.com", "password": "12345678", "mode": "bogus"})
    assert mode.status_code == 400


async def test_graphql_mutation_over_get_never_runs(api: Api) -> None:
    await api.signup()
    response = await api.http.get(
        "/graphql", params={"query": 'mutation { auth_password_request(email: "ana@example.com") }'}
    )
    assert response.status_code in (400, 405)


async def test_graphiql_is_served_on_get_in_development(api: Api) -> None:
    response = await api.http.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_password_hashing_runs_in_its_own_bounded_pool(app_with) -> None:  # type: ignore[no-untyped-def]
    # Threads alive before this app (other apps' pools, the loop's executor) are not its pool.
    earlier = set(threading.enumerate())
    # Costly enough (about 0.1 s a hash) that eight sign-ins at once overlap.
    async with app_with(password_hash_concurrency=2, argon2_memory_cost=65536, argon2_time_cost=3) as api:
        await api.signup()
        right = {"email": "ana@example.com", "password": "correct horse battery"}
        results = await asyncio.gather(*(api.gql(LOGIN, right) for _ in range(8)))
        assert all(r["data"]["auth_login"]["access_token"] for r in results), results
        pool = [t for t in threading.enumerate() if t not in earlier and t.name.startswith("password-hash")]
        assert len(pool) == 2  # PASSWORD_HASH_CONCURRENCY, busy, and never more


async def test_access_token_in_the_query_string_only_when_enabled(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(ACCESS_TOKEN_QUERY_PARAM="true") as api:
        await api.signup()
        token = (await api.login())["access_token"]
        response = await api.http.post(f"/graphql?access_token={token}", json={"query": "{ users_me { email } }"})
        assert response.json()["data"]["users_me"]["email"] == "ana@example.com"
    async with app_with() as api:
        await api.signup()
        token = (await api.login())["access_token"]
        response = await api.http.post(f"/graphql?access_token={token}", json={"query": "{ users_me { email } }"})
        assert response.json()["data"]["users_me"] is None


async def test_cors_allows_only_the_configured_origin(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(CORS_ORIGIN="https://app.example.com") as api:
        preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
        ok = await api.http.options("/graphql", headers={"Origin": "https://app.example.com", **preflight})
        assert ok.headers.get("access-control-allow-origin") == "https://app.example.com"
        assert ok.headers.get("access-control-allow-credentials") == "true"
        evil = await api.http.options("/graphql", headers={"Origin": "https://evil.example", **preflight})
        assert "access-control-allow-origin" not in evil.headers


async def test_failed_guesses_lock_the_account_for_a_while(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(LOGIN_ATTEMPTS_PER_ACCOUNT=3) as api:
        await api.signup()
        await api.signup("bo@example.com")
        wrong = {"email": "ana@example.com", "password": "wrong password"}
        assert [codes(await api.gql(LOGIN, wrong)) for _ in range(3)] == [["INVALID_CREDENTIALS"]] * 3
        locked = await api.gql(LOGIN, {"email": "ANA@example.com", "password": "correct horse battery"})
        assert codes(locked) == ["REQUESTS_EXCEEDED"] and locked["errors"][0]["extensions"]["retry_after"] > 0
        # Other accounts are unaffected; unknown emails lock the same way (nothing to learn).
        await api.login("bo@example.com")
        ghost = {"email": "ghost@example.com", "password": "wrong password"}
        assert [codes(await api.gql(LOGIN, ghost))[0] for _ in range(4)] == ["INVALID_CREDENTIALS"] * 3 + [
            "REQUESTS_EXCEEDED"
        ]


async def test_origin_null_never_carries_cookie_credentials(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(CORS_ORIGIN="https://app.example.com") as api:
        await api.signup()
        login = {"email": "ana@example.com", "password": "correct horse battery", "mode": "session"}
        await api.raw_gql(LOGIN, login)
        me = "{ users_me { email } }"
        assert (await api.gql(me, headers={"Origin": "https://app.example.com"}))["data"]["users_me"]
        assert (await api.gql(me, headers={"Origin": "null"}))["data"]["users_me"] is None
        preflight = {"Access-Control-Request-Method": "POST", "Origin": "null"}
        refused = await api.http.options("/graphql", headers=preflight)
        assert "access-control-allow-origin" not in refused.headers
        refresh = await api.http.post("/auth/refresh", json={"mode": "session"}, headers={"Origin": "null"})
        assert refresh.status_code >= 400 and "set-cookie" not in refresh.headers
