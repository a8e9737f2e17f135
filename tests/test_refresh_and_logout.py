from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from app.models import Session, Status, User
from tests.conftest import LOGIN, Api, codes

REFRESH = """
mutation($token: String, $mode: auth_mode) {
  auth_refresh(refresh_token: $token, mode: $mode) { access_token expires refresh_token }
}"""
LOGOUT = "mutation($token: String, $mode: auth_mode) { auth_logout(refresh_token: $token, mode: $mode) }"
ME = "{ users_me { email } }"


async def refresh(api: Api, token: str | None, mode: str = "json") -> dict:  # type: ignore[type-arg]
    return await api.gql(REFRESH, {"token": token, "mode": mode})


async def test_refresh_rotates_the_refresh_token(api: Api) -> None:
    await api.signup()
    first = await api.login()
    result = await refresh(api, first["refresh_token"])
    second = result["data"]["auth_refresh"]
    assert second["refresh_token"] != first["refresh_token"]
    assert second["expires"] == "900000"
    me = await api.gql(ME, token=second["access_token"])
    assert me["data"]["users_me"]["email"] == "ana@example.com"
    assert (await Session.all().count()) == 1
    session = await Session.first()
    assert session is not None and second["refresh_token"] != session.refresh_hash  # only a hash is kept


async def test_reuse_within_the_interval_returns_the_same_successor(api: Api) -> None:
    await api.signup()
    first = await api.login()
    a = (await refresh(api, first["refresh_token"]))["data"]["auth_refresh"]
    b = (await refresh(api, first["refresh_token"]))["data"]["auth_refresh"]
    assert a["refresh_token"] == b["refresh_token"]
    assert (await api.gql(ME, token=b["access_token"]))["data"]["users_me"] is not None
    # The successor still works afterwards.
    assert (await refresh(api, a["refresh_token"]))["data"]["auth_refresh"]["refresh_token"]


async def test_reuse_after_the_interval_revokes_the_whole_session(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(refresh_token_reuse_interval=0) as api:
        await api.signup()
        first = await api.login()
        successor = (await refresh(api, first["refresh_token"]))["data"]["auth_refresh"]
        await asyncio.sleep(0.01)
        stolen = await refresh(api, first["refresh_token"])
        assert codes(stolen) == ["INVALID_TOKEN"]
        # The legitimate holder is signed out too: the session is gone.
        assert codes(await refresh(api, successor["refresh_token"])) == ["INVALID_TOKEN"]
        me = await api.gql(ME, token=successor["access_token"])
        assert me["data"]["users_me"] is None and codes(me) == ["INVALID_TOKEN"]


async def test_two_refreshes_racing_both_succeed_with_one_successor(api: Api) -> None:
    await api.signup()
    first = await api.login()
    results = await asyncio.gather(*(refresh(api, first["refresh_token"]) for _ in range(4)))
    tokens = {r["data"]["auth_refresh"]["refresh_token"] for r in results}
    assert all(r.get("errors") is None for r in results), results
    assert len(tokens) == 1
    session = await Session.first()
    assert session is not None and session.generation == 1


async def test_unknown_and_malformed_refresh_tokens_are_invalid(api: Api) -> None:
    assert codes(await refresh(api, "r_" + "0" * 64)) == ["INVALID_TOKEN"]
    assert codes(await refresh(api, "x" * 10_000)) == ["INVALID_TOKEN"]
    assert codes(await refresh(api, None)) == ["INVALID_PAYLOAD"]


async def test_expired_refresh_token_is_token_expired(api: Api) -> None:
    await api.signup()
    first = await api.login()
    await Session.all().update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert codes(await refresh(api, first["refresh_token"])) == ["TOKEN_EXPIRED"]


async def test_refresh_for_a_suspended_user_fails(api: Api) -> None:
    await api.signup()
    first = await api.login()
    await User.all().update(status=Status.suspended)
    assert codes(await refresh(api, first["refresh_token"])) == ["USER_SUSPENDED"]


async def test_logout_kills_the_access_token_at_once(api: Api) -> None:
    await api.signup()
    tokens = await api.login()
    result = await api.gql(LOGOUT, {"token": tokens["refresh_token"]})
    assert result == {"data": {"auth_logout": True}}
    me = await api.gql(ME, token=tokens["access_token"])
    assert me["data"] == {"users_me": None}
    assert codes(me) == ["INVALID_TOKEN"]
    assert codes(await refresh(api, tokens["refresh_token"])) == ["INVALID_TOKEN"]
    assert codes(await api.gql(LOGOUT, {"token": tokens["refresh_token"]})) == ["INVALID_TOKEN"]


async def test_logout_leaves_other_sessions_alone(api: Api) -> None:
    await api.signup()
    phone, laptop = await api.login(), await api.login()
    await api.gql(LOGOUT, {"token": phone["refresh_token"]})
    assert (await api.gql(ME, token=laptop["access_token"]))["data"]["users_me"] is not None


async def test_rest_refresh_and_logout(api: Api) -> None:
    await api.signup()
    tokens = await api.login()
    refreshed = await api.http.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200
    new = refreshed.json()["data"]
    assert isinstance(new["expires"], int) and new["refresh_token"] != tokens["refresh_token"]
    out = await api.http.post("/auth/logout", json={"refresh_token": new["refresh_token"]})
    assert (out.status_code, out.content) == (204, b"")
    again = await api.http.post("/auth/refresh", json={"refresh_token": new["refresh_token"]})
    assert again.status_code == 401
    assert again.json()["errors"][0]["extensions"]["code"] == "INVALID_TOKEN"


# --- cookie and session modes -------------------------------------------------------------


async def test_cookie_mode_sets_an_httponly_refresh_cookie(api: Api) -> None:
    await api.signup()
    response = await api.raw_gql(
        LOGIN, {"email": "ana@example.com", "password": "correct horse battery", "mode": "cookie"}
    )
    tokens = response.json()["data"]["auth_login"]
    assert tokens["refresh_token"] is None and tokens["access_token"] and tokens["expires"] == "900000"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("refresh_token=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # PUBLIC_URL is plain http here
    refreshed = await api.gql(REFRESH, {"mode": "cookie"})
    assert refreshed["data"]["auth_refresh"]["access_token"]
    assert refreshed["data"]["auth_refresh"]["refresh_token"] is None


async def test_cookies_are_secure_behind_https(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(PUBLIC_URL="https://auth.example.com") as api:
        await api.signup()
        response = await api.raw_gql(
            LOGIN, {"email": "ana@example.com", "password": "correct horse battery", "mode": "cookie"}
        )
        assert "Secure" in response.headers["set-cookie"]


async def test_cookie_refresh_needs_json_and_a_known_origin(api: Api) -> None:
    await api.signup()
    await api.raw_gql(LOGIN, {"email": "ana@example.com", "password": "correct horse battery", "mode": "cookie"})
    evil = await api.gql(REFRESH, {"mode": "cookie"}, headers={"Origin": "https://evil.example"})
    assert codes(evil) == ["INVALID_PAYLOAD"]
    form = await api.http.post(
        "/auth/refresh", content=b"mode=cookie", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert form.status_code == 400
    own = await api.gql(REFRESH, {"mode": "cookie"}, headers={"Origin": "http://127.0.0.1:8000"})
    assert own["data"]["auth_refresh"]["access_token"]


async def test_session_mode_returns_no_tokens_and_authenticates_by_cookie(api: Api) -> None:
    await api.signup()
    response = await api.raw_gql(
        LOGIN, {"email": "ana@example.com", "password": "correct horse battery", "mode": "session"}
    )
    tokens = response.json()["data"]["auth_login"]
    assert tokens == {"access_token": None, "expires": "900000", "refresh_token": None}
    assert response.headers["set-cookie"].startswith("session_token=")
    me = await api.gql(ME)
    assert me["data"]["users_me"]["email"] == "ana@example.com"
    # A cross-site form post is refused before it runs...
    form = await api.http.post(
        "/graphql",
        content=b"query=%7Busers_me%7Bemail%7D%7D",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert codes(form.json()) == ["INVALID_PAYLOAD"]
    # ...and a request from another origin that runs does not carry the session.
    forged = await api.gql(ME, headers={"Origin": "https://evil.example"})
    assert forged["data"]["users_me"] is None
    rotated = await api.gql(REFRESH, {"mode": "session"})
    assert rotated["data"]["auth_refresh"] == {"access_token": None, "expires": "900000", "refresh_token": None}
    assert (await api.gql(ME))["data"]["users_me"]["email"] == "ana@example.com"
    out = await api.gql(LOGOUT, {"mode": "session"})
    assert out["data"]["auth_logout"] is True
    api.http.cookies.clear()
    assert (await api.gql(ME))["data"]["users_me"] is None


async def test_an_older_token_replayed_revokes_the_session(api: Api) -> None:
    await api.signup()
    first = await api.login()
    second = (await refresh(api, first["refresh_token"]))["data"]["auth_refresh"]
    third = (await refresh(api, second["refresh_token"]))["data"]["auth_refresh"]
    # `first` is two rotations old: no grace, however soon it comes back.
    assert codes(await refresh(api, first["refresh_token"])) == ["INVALID_TOKEN"]
    assert codes(await refresh(api, third["refresh_token"])) == ["INVALID_TOKEN"]
    assert codes(await api.gql(ME, token=third["access_token"])) == ["INVALID_TOKEN"]


async def test_a_forged_token_for_a_real_session_does_not_revoke_it(api: Api) -> None:
    await api.signup()
    tokens = await api.login()
    session_part = tokens["refresh_token"].split(".")[0]
    forged = f"{session_part}.{'0' * 64}"
    assert codes(await refresh(api, forged)) == ["INVALID_TOKEN"]
    assert (await refresh(api, tokens["refresh_token"]))["data"]["auth_refresh"]["access_token"]


async def test_a_session_cookie_from_just_before_a_rotation_still_works(api: Api) -> None:
    await api.signup()
    await api.raw_gql(LOGIN, {"email": "ana@example.com", "password": "correct horse battery", "mode": "session"})
    old_cookie = api.http.cookies.get("session_token")
    await api.gql(REFRESH, {"mode": "session"})
    assert api.http.cookies.get("session_token") != old_cookie
    api.http.cookies.set("session_token", old_cookie)
    assert (await api.gql(ME))["data"]["users_me"]["email"] == "ana@example.com"


async def test_a_refresh_token_from_the_cookie_goes_back_in_the_cookie_whatever_the_mode(api: Api) -> None:
    await api.signup()
    await api.raw_gql(LOGIN, {"email": "ana@example.com", "password": "correct horse battery", "mode": "cookie"})
    for step in range(2):
        before = api.http.cookies.get("refresh_token")
        if step == 0:
            response = await api.raw_gql(REFRESH, {"mode": "json"})
            body = response.json()["data"]["auth_refresh"]
        else:
            response = await api.http.post("/auth/refresh", json={"mode": "json"})
            body = response.json()["data"]
        # The httpOnly cookie's successor never reaches the page's scripts...
        assert body["refresh_token"] is None and body["access_token"], body
        # ...it replaces the cookie, so the session carries on.
        after = api.http.cookies.get("refresh_token")
        assert after and after != before
        session = await Session.get()
        assert session.generation == step + 1 and session.revoked_at is None
    assert (await api.gql(ME, token=body["access_token"]))["data"]["users_me"]["email"] == "ana@example.com"


async def test_a_refresh_token_sent_in_the_body_comes_back_in_the_body(api: Api) -> None:
    await api.signup()
    cookie_login = await api.raw_gql(
        LOGIN, {"email": "ana@example.com", "password": "correct horse battery", "mode": "cookie"}
    )
    assert cookie_login.json()["data"]["auth_login"]["refresh_token"] is None
    tokens = await api.login()  # a second, json-mode session beside the cookie
    refreshed = (await refresh(api, tokens["refresh_token"]))["data"]["auth_refresh"]
    assert refreshed["refresh_token"] and refreshed["refresh_token"] != tokens["refresh_token"]
    rest = await api.http.post("/auth/refresh", json={"refresh_token": refreshed["refresh_token"]})
    assert rest.json()["data"]["refresh_token"] not in (None, refreshed["refresh_token"])


async def test_a_session_cookie_never_comes_back_as_a_token(api: Api) -> None:
    await api.signup()
    await api.raw_gql(LOGIN, {"email": "ana@example.com", "password": "correct horse battery", "mode": "session"})
    for mode in ("json", "cookie"):
        result = await refresh(api, None, mode)
        assert codes(result) == ["INVALID_PAYLOAD"] and result["data"]["auth_refresh"] is None
    rotated = await refresh(api, None, "session")
    assert rotated["data"]["auth_refresh"] == {"access_token": None, "expires": "900000", "refresh_token": None}


async def test_no_cache_keeps_an_answer_that_carries_tokens(api: Api) -> None:
    await api.signup()
    rest = await api.http.post("/auth/login", json={"email": "ana@example.com", "password": "correct horse battery"})
    graphql = await api.raw_gql(LOGIN, {"email": "ana@example.com", "password": "correct horse battery"})
    refreshed = await api.http.post("/auth/refresh", json={"refresh_token": rest.json()["data"]["refresh_token"]})
    for answer in (rest, graphql, refreshed):
        assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store", answer.headers
        assert answer.headers["pragma"] == "no-cache"
