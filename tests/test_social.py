"""Social sign-in against a real OpenID Provider on loopback (tests/oidc_provider.py)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from joserfc.jwk import RSAKey

from app.models import Identity, Role, User
from tests.conftest import BASE_URL, LOGIN, Api, codes, csrf, make_settings, running_app, update_user
from tests.oidc_provider import OpenIDProvider
from tests.test_pages import page_rules

APP = "https://app.example.com/done"
REFRESH = "mutation { auth_refresh(mode: cookie) { access_token } }"
ME = "{ users_me { email email_verified role first_name } }"
ANA = {"sub": "op-ana", "email": "ana@example.com", "email_verified": True, "name": "Ana Lima", "given_name": "Ana"}


@pytest.fixture(scope="session")
def op() -> Iterator[OpenIDProvider]:
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # the test provider speaks plain http on loopback
    provider = OpenIDProvider().start()
    for name in ("oidc", "auth0", "github"):
        provider.add_client(f"{name}-client", f"{name}-secret", f"{BASE_URL}/auth/login/{name}/callback")
    yield provider
    provider.stop()


def social_env(op: OpenIDProvider, **extra: str) -> dict[str, str]:
    env = {
        "AUTH_PROVIDERS": "oidc,auth0,github",
        "AUTH_OIDC_DRIVER": "openid",
        "AUTH_OIDC_CLIENT_ID": "oidc-client",
        "AUTH_OIDC_CLIENT_SECRET": "oidc-secret",
        "AUTH_OIDC_ISSUER_URL": op.issuer,
        "AUTH_OIDC_ALLOW_PUBLIC_REGISTRATION": "true",
        "AUTH_OIDC_REDIRECT_ALLOW_LIST": APP,
        "AUTH_AUTH0_CLIENT_ID": "auth0-client",
        "AUTH_AUTH0_CLIENT_SECRET": "auth0-secret",
        "AUTH_AUTH0_ISSUER_URL": op.issuer,
        "AUTH_AUTH0_ALLOW_PUBLIC_REGISTRATION": "true",
        "AUTH_GITHUB_CLIENT_ID": "github-client",
        "AUTH_GITHUB_CLIENT_SECRET": "github-secret",
        "AUTH_GITHUB_AUTHORIZE_URL": f"{op.issuer}/authorize",
        "AUTH_GITHUB_ACCESS_URL": f"{op.issuer}/token",
        "AUTH_GITHUB_PROFILE_URL": f"{op.issuer}/user",
        "AUTH_GITHUB_EMAILS_URL": f"{op.issuer}/user/emails",
        "AUTH_GITHUB_ALLOW_PUBLIC_REGISTRATION": "true",
        "AUTH_GITHUB_DEFAULT_ROLE": "guest",
    }
    env.update(extra)
    return env


@asynccontextmanager
async def social_app(op: OpenIDProvider, **extra: str) -> AsyncIterator[Api]:
    op.person, op.deny, op.emails = dict(ANA), False, None
    async with running_app(make_settings(**social_env(op, **extra))) as api:
        yield api


async def browser(api: Api, path: str) -> tuple[httpx.Response, httpx.Response | None]:
    """Follow the redirect flow as a browser: our start URL -> the provider -> our callback.
    Returns (the callback's answer, the provider's answer)."""
    started = await api.http.get(path)
    if started.status_code != 302:
        return started, None
    async with httpx.AsyncClient() as outside:
        at_provider = await outside.get(started.headers["location"])
    assert at_provider.status_code == 302, at_provider.text
    back = urlsplit(at_provider.headers["location"])
    assert f"{back.scheme}://{back.netloc}" == BASE_URL
    return await api.http.get(f"{back.path}?{back.query}"), at_provider


def reason(response: httpx.Response) -> str | None:
    return parse_qs(urlsplit(response.headers.get("location", "")).query).get("reason", [None])[0]


async def test_providers_are_listed(op: OpenIDProvider) -> None:
    async with social_app(op) as api:
        listed = (await api.http.get("/auth")).json()
        assert [p["name"] for p in listed["data"]] == ["oidc", "auth0", "github"]
        assert listed["data"][0]["driver"] == "openid" and listed["disableDefault"] is False
        assert (await api.http.get("/auth/oauth")).json() == {"data": ["oidc", "auth0", "github"]}
        graphql = await api.gql("{ auth_providers { name driver icon disableDefault } }")
        assert [p["name"] for p in graphql["data"]["auth_providers"]] == ["oidc", "auth0", "github"]


async def test_openid_redirect_flow_signs_in_and_creates_the_user(op: OpenIDProvider) -> None:
    async with social_app(op) as api:
        answer, at_provider = await browser(api, f"/auth/login/oidc?redirect={APP}")
        assert at_provider is not None
        authorize = parse_qs(
            urlsplit((await api.http.get(f"/auth/login/oidc?redirect={APP}")).headers["location"]).query
        )
        assert authorize["code_challenge_method"] == ["S256"] and authorize["nonce"] and authorize["state"]
        assert answer.status_code == 302 and answer.headers["location"] == APP
        assert "refresh_token=" in answer.headers["set-cookie"]
        tokens = (await api.gql(REFRESH))["data"]["auth_refresh"]
        me = (await api.gql(ME, token=tokens["access_token"]))["data"]["users_me"]
        assert me == {"email": "ana@example.com", "email_verified": True, "role": "user", "first_name": "Ana"}
        [identity] = await Identity.all()
        assert (identity.provider, identity.subject) == ("oidc", "op-ana")
        # The same person again: the same account.
        await browser(api, "/auth/login/oidc")
        assert await User.all().count() == 1


async def test_without_redirect_a_page_says_what_happened(op: OpenIDProvider) -> None:
    async with social_app(op) as api:
        answer, _ = await browser(api, "/auth/login/oidc")
        assert answer.status_code == 200 and "signed in" in answer.text
        page_rules(answer)
        assert "<h1>Done</h1>" in answer.text


async def test_access_denied_goes_back_with_a_reason(op: OpenIDProvider) -> None:
    async with social_app(op) as api:
        op.deny = True
        answer, _ = await browser(api, f"/auth/login/oidc?redirect={APP}")
        assert answer.status_code == 302 and reason(answer) == "INVALID_CREDENTIALS"
        assert await User.all().count() == 0


async def test_tampered_state_is_refused(op: OpenIDProvider) -> None:
    async with social_app(op) as api:
        started = await api.http.get(f"/auth/login/oidc?redirect={APP}")
        async with httpx.AsyncClient() as outside:
            at_provider = await outside.get(started.headers["location"])
        back = urlsplit(at_provider.headers["location"])
        query = parse_qs(back.query)
        exchanges = op.token_requests
        forged = await api.http.get(back.path, params={"code": query["code"][0], "state": "forged-state"})
        assert forged.status_code == 302 and reason(forged) == "INVALID_TOKEN"
        assert op.token_requests == exchanges  # refused before the code was spent
        assert await User.all().count() == 0


async def test_a_callback_without_the_flow_cookie_is_a_page_not_a_500(op: OpenIDProvider) -> None:
    async with social_app(op) as api:
        answer = await api.http.get("/auth/login/oidc/callback", params={"code": "x", "state": "y"})
        assert answer.status_code == 401 and "INVALID_TOKEN" in answer.text
        unknown = await api.http.get("/auth/login/nope")
        assert unknown.status_code == 400 and "INVALID_PROVIDER" in unknown.text
        bad_redirect = await api.http.get("/auth/login/oidc", params={"redirect": "https://evil.example/"})
        assert bad_redirect.status_code == 400 and "INVALID_PAYLOAD" in bad_redirect.text


async def test_a_replayed_callback_is_refused(op: OpenIDProvider) -> None:
    async with social_app(op) as api:
        started = await api.http.get(f"/auth/login/oidc?redirect={APP}")
        flow_cookie = api.http.cookies.get("auth_flow")
        async with httpx.AsyncClient() as outside:
            at_provider = await outside.get(started.headers["location"])
        back = urlsplit(at_provider.headers["location"])
        first = await api.http.get(f"{back.path}?{back.query}")
        assert first.status_code == 302 and reason(first) is None
        # An attacker replays the same callback, even with the flow cookie copied.
        api.http.cookies.set("auth_flow", flow_cookie, path="/auth/login")
        replay = await api.http.get(f"{back.path}?{back.query}")
        assert replay.status_code == 302 and reason(replay) == "INVALID_CREDENTIALS"


async def test_an_unverified_provider_email_is_never_matched_nor_taken(op: OpenIDProvider) -> None:
    # Anyone can put any address on an account at their own provider: it must not reach an
    # existing account, tell whether one exists, or hold the address against its owner.
    async with social_app(op) as api:
        await api.signup("ana@example.com")
        op.person = {**ANA, "email_verified": False}
        answer, _ = await browser(api, f"/auth/login/oidc?redirect={APP}")
        assert reason(answer) is None  # the same answer as for an address nobody has
        ana = await User.get(email="ana@example.com")
        assert not await Identity.filter(user_id=ana.id).exists()
        newcomer = await User.get(id=(await Identity.get(subject="op-ana")).user_id)
        assert newcomer.email is None and not newcomer.email_verified
        # The address stays free for its owner, and an unknown one is no different.
        op.person = {**ANA, "sub": "op-other", "email": "free@example.com", "email_verified": False}
        api.http.cookies.clear()
        answer, _ = await browser(api, f"/auth/login/oidc?redirect={APP}")
        assert reason(answer) is None and not await User.filter(email="free@example.com").exists()


async def test_with_registration_closed_an_unverified_email_fails_alike_for_taken_and_free(op: OpenIDProvider) -> None:
    async with social_app(op, AUTH_OIDC_ALLOW_PUBLIC_REGISTRATION="false") as api:
        await api.signup("ana@example.com")
        outcomes = []
        for email in ("ana@example.com", "free@example.com"):
            op.person = {**ANA, "email": email, "email_verified": False}
            api.http.cookies.clear()
            answer, _ = await browser(api, f"/auth/login/oidc?redirect={APP}")
            outcomes.append(reason(answer))
        assert outcomes == ["INVALID_CREDENTIALS", "INVALID_CREDENTIALS"]


async def test_verified_email_links_to_the_existing_account(op: OpenIDProvider) -> None:
    async with social_app(op) as api:
        await api.signup("ana@example.com")
        answer, _ = await browser(api, f"/auth/login/oidc?redirect={APP}")
        assert reason(answer) is None
        user = await User.get(email="ana@example.com")
        assert (await Identity.get()).user_id == user.id and await User.all().count() == 1
        assert user.email_verified


async def test_registration_closed_for_a_provider(op: OpenIDProvider) -> None:
    async with social_app(op, AUTH_OIDC_ALLOW_PUBLIC_REGISTRATION="false") as api:
        answer, _ = await browser(api, f"/auth/login/oidc?redirect={APP}")
        assert reason(answer) == "INVALID_CREDENTIALS" and await User.all().count() == 0


async def test_github_style_oauth2_driver_reads_verified_emails(op: OpenIDProvider) -> None:
    async with social_app(op) as api:
        op.person = {"id": 4242, "login": "ana", "name": "Ana", "public_email": None}
        op.emails = [
            {"email": "other@example.com", "primary": False, "verified": True},
            {"email": "ana@example.com", "primary": True, "verified": True},
        ]
        refused, _ = await browser(api, f"/auth/login/github?redirect={APP}")
        assert refused.status_code == 400 and "INVALID_PAYLOAD" in refused.text  # not on github's allow list
        answer, _ = await browser(api, "/auth/login/github")
        assert answer.status_code == 200 and "signed in" in answer.text
        user = await User.get(email="ana@example.com")
        assert user.role == Role.guest and user.email_verified
        assert (await Identity.get()).subject == "4242"


async def test_link_and_unlink_identities(op: OpenIDProvider) -> None:
    async with social_app(op) as api:
        await api.signup("ana@example.com")
        login = await api.raw_gql(
            LOGIN, {"email": "ana@example.com", "password": "correct horse battery", "mode": "cookie"}
        )
        token = login.json()["data"]["auth_login"]["access_token"]
        op.person = {"id": 7, "login": "ana-gh", "public_email": "someone-else@example.com"}
        answer, _ = await browser(api, "/auth/login/github?link=true")
        assert answer.status_code == 200 and "linked" in answer.text
        op.person = {**ANA, "sub": "op-ana-2", "email": "ana@work.example"}
        await browser(api, "/auth/login/oidc?link=true")
        identities = (await api.gql("{ users_me_identities { provider subject } }", token=token))["data"]
        assert sorted(i["provider"] for i in identities["users_me_identities"]) == ["github", "oidc"]
        unlink = "mutation($p: String!) { users_me_identity_unlink(provider: $p) }"
        assert (await api.gql(unlink, {"p": "github"}, token=token)) == {"data": {"users_me_identity_unlink": True}}
        assert codes(await api.gql(unlink, {"p": "github"}, token=token)) == ["INVALID_PROVIDER"]
        # Linking needs a signed-in browser.
        api.http.cookies.clear()
        refused = await api.http.get("/auth/login/oidc?link=true")
        assert refused.status_code == 403


async def test_another_site_cannot_start_linking_in_a_signed_in_browser(op: OpenIDProvider) -> None:
    async with social_app(op, CORS_ORIGIN="https://app.example.com") as api:
        await api.signup("ana@example.com")
        await api.raw_gql(LOGIN, {"email": "ana@example.com", "password": "correct horse battery", "mode": "cookie"})
        for referer in (None, "https://evil.example/page", "null"):
            headers = {"Sec-Fetch-Site": "cross-site", **({"Referer": referer} if referer else {})}
            refused = await api.http.get("/auth/login/oidc?link=true", headers=headers)
            assert refused.status_code == 403, referer
            assert "location" not in refused.headers
        # A navigation from the app's own origin, or from our pages, still starts it.
        for headers in (
            {"Sec-Fetch-Site": "cross-site", "Referer": "https://app.example.com/settings"},
            {"Sec-Fetch-Site": "same-origin"},
        ):
            started = await api.http.get("/auth/login/oidc?link=true", headers=headers)
            assert started.status_code == 302, headers


async def test_the_last_way_in_cannot_be_unlinked(op: OpenIDProvider) -> None:
    async with social_app(op) as api:
        await browser(api, "/auth/login/oidc")
        token = (await api.gql(REFRESH))["data"]["auth_refresh"]["access_token"]
        result = await api.gql('mutation { users_me_identity_unlink(provider: "oidc") }', token=token)
        assert codes(result) == ["INVALID_PAYLOAD"]
        assert await Identity.all().count() == 1


async def test_an_identity_of_another_account_cannot_be_linked(op: OpenIDProvider) -> None:
    async with social_app(op) as api:
        await browser(api, "/auth/login/oidc")  # creates ana via oidc
        await api.signup("bo@example.com")
        api.http.cookies.clear()
        await api.raw_gql(LOGIN, {"email": "bo@example.com", "password": "correct horse battery", "mode": "cookie"})
        answer, _ = await browser(api, "/auth/login/oidc?link=true")
        assert answer.status_code == 400 and "RECORD_NOT_UNIQUE" in answer.text


# --- id_token sign-in (Graphcool's auth0 / oidc inputs) -------------------------------------

SIGNIN_OIDC = (
    "mutation($p: String!, $t: String!) { signinUser(oidc: {provider: $p, idToken: $t}) { token user { email } } }"
)
SIGNIN_AUTH0 = "mutation($t: String!) { signinUser(auth0: {idToken: $t}) { token user { email } } }"


async def test_id_token_sign_in(op: OpenIDProvider) -> None:
    async with social_app(op) as api:
        result = await api.gql(SIGNIN_OIDC, {"p": "oidc", "t": op.id_token("oidc-client")})
        assert result["data"]["signinUser"]["user"]["email"] == "ana@example.com"
        auth0 = await api.gql(SIGNIN_AUTH0, {"t": op.id_token("auth0-client")})
        assert auth0["data"]["signinUser"]["token"]


async def test_forged_id_tokens_are_refused(op: OpenIDProvider) -> None:
    async with social_app(op) as api:
        wrong_aud = await api.gql(SIGNIN_OIDC, {"p": "oidc", "t": op.id_token("someone-else")})
        assert codes(wrong_aud) == ["INVALID_TOKEN"]
        wrong_iss = await api.gql(
            SIGNIN_OIDC, {"p": "oidc", "t": op.id_token("oidc-client", iss="https://evil.example")}
        )
        assert codes(wrong_iss) == ["INVALID_TOKEN"]
        stranger = RSAKey.generate_key(2048, parameters={"kid": "key-1"})
        forged = await api.gql(SIGNIN_OIDC, {"p": "oidc", "t": op.id_token("oidc-client", key=stranger)})
        assert codes(forged) == ["INVALID_TOKEN"]
        expired = await api.gql(SIGNIN_OIDC, {"p": "oidc", "t": op.id_token("oidc-client", exp=1_000_000)})
        assert codes(expired) == ["TOKEN_EXPIRED"]
        garbage = await api.gql(SIGNIN_OIDC, {"p": "oidc", "t": "not-a-jwt"})
        assert codes(garbage) == ["INVALID_TOKEN"]
        unknown = await api.gql(SIGNIN_OIDC, {"p": "nope", "t": op.id_token("oidc-client")})
        assert codes(unknown) == ["INVALID_PROVIDER"]
        assert await User.all().count() == 0


async def test_an_unknown_kid_refetches_the_jwks(op: OpenIDProvider) -> None:
    async with social_app(op) as api:
        first = await api.gql(SIGNIN_OIDC, {"p": "oidc", "t": op.id_token("oidc-client")})
        assert first["data"]["signinUser"]["token"]
        fetched = op.jwks_requests
        op.rotate_key()
        rotated = await api.gql(SIGNIN_OIDC, {"p": "oidc", "t": op.id_token("oidc-client")})
        assert rotated["data"]["signinUser"]["token"] and op.jwks_requests == fetched + 1
        # Forged kids do not make us hammer the provider: no second refetch right away.
        stranger = RSAKey.generate_key(2048, parameters={"kid": "forged-kid"})
        forged = await api.gql(SIGNIN_OIDC, {"p": "oidc", "t": op.id_token("oidc-client", key=stranger)})
        assert codes(forged) == ["INVALID_TOKEN"] and op.jwks_requests == fetched + 1


async def test_create_user_with_an_id_token(op: OpenIDProvider) -> None:
    async with social_app(op) as api:
        query = 'mutation($t: String!) { createUser(authProvider: {oidc: {provider: "oidc", idToken: $t}}) { email } }'
        created = await api.gql(query, {"t": op.id_token("oidc-client")})
        assert created["data"]["createUser"]["email"] == "ana@example.com"
        again = await api.gql(query, {"t": op.id_token("oidc-client")})
        assert codes(again) == ["RECORD_NOT_UNIQUE"]
        for provider in ("email", "phone"):
            odd = await api.gql(
                'mutation($p: String!) { createUser(authProvider: {oidc: {provider: $p, idToken: "x"}}) { id } }',
                {"p": provider},
            )
            assert codes(odd) == ["INVALID_PROVIDER"]


async def test_create_user_with_an_id_token_needs_open_registration(op: OpenIDProvider) -> None:
    async with social_app(op, AUTH_OIDC_ALLOW_PUBLIC_REGISTRATION="false") as api:
        query = 'mutation($t: String!) { createUser(authProvider: {oidc: {provider: "oidc", idToken: $t}}) { email } }'
        assert codes(await api.gql(query, {"t": op.id_token("oidc-client")})) == ["FORBIDDEN"]
        assert await User.all().count() == 0


async def test_auth_disable_default_keeps_social_sign_in(op: OpenIDProvider) -> None:
    async with social_app(op, AUTH_DISABLE_DEFAULT="true") as api:
        assert (await api.http.get("/auth")).json()["disableDefault"] is True
        result = await api.gql(LOGIN, {"email": "ana@example.com", "password": "correct horse battery"})
        assert codes(result) == ["INVALID_PROVIDER"]
        answer, _ = await browser(api, f"/auth/login/oidc?redirect={APP}")
        assert reason(answer) is None


async def test_an_account_with_mfa_finishes_social_sign_in_with_a_code(op: OpenIDProvider) -> None:
    import pyotp

    from app.auth.secrets import SecretBox
    from tests.conftest import TEST_SECRET

    async with social_app(op) as api:
        await browser(api, "/auth/login/oidc")  # creates the account
        api.http.cookies.clear()
        secret = pyotp.random_base32()
        await User.filter(email="ana@example.com").update(tfa_secret=SecretBox(TEST_SECRET).seal(secret))
        answer, _ = await browser(api, f"/auth/login/oidc?redirect={APP}")
        assert answer.status_code == 302 and answer.headers["location"] == "/auth/pages/otp"
        assert "refresh_token=" not in answer.headers.get("set-cookie", "")
        form = await api.http.get("/auth/pages/otp")
        assert form.status_code == 200 and 'name="otp"' in form.text
        # The right code answers with a redirect to the app; browsers hold a form's redirect
        # to the page's form-action, so the allow-listed origin must be there.
        page_rules(form)
        assert "; form-action 'self' https://app.example.com;" in form.headers["content-security-policy"]
        wrong = await api.http.post("/auth/pages/otp", data={"otp": "000000", **csrf(form)})
        assert wrong.status_code == 401 and "INVALID_OTP" in wrong.text
        # The sign-in still waits for a code: the error, and the form again to type one.
        assert "That code is not right." in wrong.text and '<input id="otp" name="otp"' in wrong.text
        assert "<h1>Two-factor authentication</h1>" in wrong.text and csrf(wrong) == csrf(form)
        done = await api.http.post("/auth/pages/otp", data={"otp": pyotp.TOTP(secret).now(), **csrf(form)})
        assert done.status_code == 302 and done.headers["location"] == APP
        assert "refresh_token=" in done.headers["set-cookie"]
        assert (await api.gql(REFRESH))["data"]["auth_refresh"]["access_token"]
        # Without the ticket cookie (or after it) the page refuses.
        api.http.cookies.clear()
        form = await api.http.get("/auth/pages/otp")
        stale = await api.http.post("/auth/pages/otp", data={"otp": pyotp.TOTP(secret).now(), **csrf(form)})
        assert stale.status_code == 401 and "INVALID_TOKEN" in stale.text


async def test_hostile_redirects_are_refused_before_leaving_for_the_provider(op: OpenIDProvider) -> None:
    async with social_app(op) as api:
        for url in (
            f"{APP}?x=1\nBackup: https://evil.test/",
            f"{APP}?x=1\r\nSet-Cookie: a=b",
            f"{APP}?x=1\tz",
            f"{APP}?x=1 z",
            f"{APP}?x=\u2028",
            "https://app.example.com@evil.test/done",
            "https://app.example.com\\@evil.test/done",
            "https://app.example.com.evil.test/done",
            "https://app.example.com:8443/done",
            f"{APP}-evil",
            f"{APP}/x",
            "javascript:alert(1)//https://app.example.com/done",
            f"{APP}?x=" + "a" * 2100,
        ):
            started = await api.http.get("/auth/login/oidc", params={"redirect": url})
            assert started.status_code == 400 and "INVALID_PAYLOAD" in started.text, url
            assert "location" not in started.headers


async def test_the_way_back_is_rebuilt_from_the_allowed_redirect(op: OpenIDProvider) -> None:
    async with social_app(op) as api:
        given = f"{APP}?tab=a%0ab#top"
        answer, _ = await browser(api, "/auth/login/oidc?" + urlencode({"redirect": given}))
        assert answer.status_code == 302 and answer.headers["location"] == f"{APP}?tab=a%0Ab#top"
        # A failure sets our reason, in the query (not after the fragment), replacing any given one.
        op.deny = True
        api.http.cookies.clear()
        given = f"{APP}?tab=a&reason=spoofed#top"
        answer, _ = await browser(api, "/auth/login/oidc?" + urlencode({"redirect": given}))
        assert answer.status_code == 302
        assert answer.headers["location"] == f"{APP}?tab=a&reason=INVALID_CREDENTIALS#top"


async def _at_the_code_page(api: Api) -> str:
    """An account with MFA, half-way through a social sign-in; its TOTP secret."""
    import pyotp

    from app.auth.secrets import SecretBox
    from tests.conftest import TEST_SECRET

    secret = pyotp.random_base32()
    await update_user("ana@example.com", tfa_secret=SecretBox(TEST_SECRET).seal(secret))
    api.http.cookies.clear()
    answer, _ = await browser(api, "/auth/login/oidc")
    assert answer.headers["location"] == "/auth/pages/otp"
    return secret


async def test_concurrent_codes_after_a_social_sign_in_cannot_overrun_the_budget(op: OpenIDProvider) -> None:
    import asyncio

    import pyotp

    async with social_app(op) as api:
        await browser(api, "/auth/login/oidc")  # creates the account
        secret = await _at_the_code_page(api)
        field = csrf(await api.http.get("/auth/pages/otp"))
        guesses = (api.http.post("/auth/pages/otp", data={"otp": "000000", **field}) for _ in range(30))
        answers = await asyncio.gather(*guesses)
        assert sorted(a.status_code for a in answers) == [401] * 10 + [429] * 20
        right = await api.http.post("/auth/pages/otp", data={"otp": pyotp.TOTP(secret).now(), **field})
        assert right.status_code == 429 and "REQUESTS_EXCEEDED" in right.text


async def test_codes_after_a_social_sign_in_share_the_accounts_budget(op: OpenIDProvider) -> None:
    import pyotp

    async with social_app(op) as api:
        await browser(api, "/auth/login/oidc")
        token = (await api.gql(REFRESH))["data"]["auth_refresh"]["access_token"]
        secret = await _at_the_code_page(api)
        disable = "mutation($otp: String!) { users_me_tfa_disable(otp: $otp) }"
        for _ in range(10):
            assert codes(await api.gql(disable, {"otp": "000000"}, token=token)) == ["INVALID_OTP"]
        field = csrf(await api.http.get("/auth/pages/otp"))
        right = await api.http.post("/auth/pages/otp", data={"otp": pyotp.TOTP(secret).now(), **field})
        assert right.status_code == 429 and "REQUESTS_EXCEEDED" in right.text


async def test_the_code_page_form_may_go_back_to_every_allow_listed_origin(op: OpenIDProvider) -> None:
    allowed = "https://app.example.com/done,http://localhost:3000/back/,https://app.example.com:443/other"
    async with social_app(
        op, AUTH_OIDC_REDIRECT_ALLOW_LIST=allowed, AUTH_AUTH0_REDIRECT_ALLOW_LIST="https://shop.test/"
    ) as api:
        form = await api.http.get("/auth/pages/otp")
        page_rules(form)
        policy = form.headers["content-security-policy"]
        assert "; form-action 'self' http://localhost:3000 https://app.example.com https://shop.test;" in policy
    # No allow list: our own pages only.
    async with social_app(op, AUTH_OIDC_REDIRECT_ALLOW_LIST="") as api:
        assert "; form-action 'self';" in (await api.http.get("/auth/pages/otp")).headers["content-security-policy"]
