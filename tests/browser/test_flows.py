"""What a person does with the pages, in a real browser with the network cut off: reset a
password, verify an email, accept an invitation (each from the link in a real mail), finish
a social sign-in with a code from an authenticator app, and add and use a passkey with
Chromium's virtual authenticator. Each flow ends with a screenshot (`make screenshots`)."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pyotp
import pytest
from playwright.async_api import expect

from app.models import Passkey, Role, Session, Status, User
from tests.browser.conftest import STEP_TIMEOUT_MS, LiveServer
from tests.conftest import LOGIN, Outbox, codes, text_of
from tests.oidc_provider import OpenIDProvider

EMAIL = "ana@example.com"
PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new passphrase"
ME = "{ users_me { email email_verified } }"
APP = "https://app.example.com/done"  # the app a social sign-in returns to (stood in for below)

expect.set_options(timeout=STEP_TIMEOUT_MS)


async def mailed_link(outbox: Outbox, to: str, server: LiveServer, path: str) -> str:
    """The link to `path` in the last mail to `to`, once it has arrived."""
    async with asyncio.timeout(STEP_TIMEOUT_MS / 1000):
        while not outbox.to(to):
            await asyncio.sleep(0.05)
    body = text_of(outbox.to(to)[-1])
    match = re.search(re.escape(server.url + path) + r"\?token=[\w.-]+", body)
    assert match, body
    return match.group(0)


def clean(page: Any, *expected: str) -> None:
    """Nothing was fetched off this machine and no script failed; `expected`: console
    errors the browser logs on its own (a page answered with an error status)."""
    assert page.offline.refused == [], "the page reached for the network"
    assert [e for e in page.offline.console_errors if e not in expected] == []


async def token_left_the_address_bar(page: Any, path: str, server: LiveServer) -> None:
    """pages.js takes the link's token out of the address bar (and history) once loaded."""
    await page.wait_for_function("() => !new URLSearchParams(location.search).has('token')")
    assert page.url == server.url + path


async def test_reset_password_from_the_mailed_link(
    live_server: LiveServer, outbox: Outbox, page: Any, screenshot: Any
) -> None:
    api = live_server.api
    await api.signup(EMAIL, PASSWORD)
    request = "mutation($email: String!) { auth_password_request(email: $email) }"
    assert (await api.gql(request, {"email": EMAIL}))["data"]["auth_password_request"] is True
    link = await mailed_link(outbox, EMAIL, live_server, "/auth/pages/reset-password")

    await page.goto(link)
    await expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    await token_left_the_address_bar(page, "/auth/pages/reset-password", live_server)
    await expect(page.get_by_text("At least 8 characters.")).to_be_visible()
    await page.get_by_label("New password").fill(NEW_PASSWORD)
    await screenshot(page, "reset-password")
    await page.get_by_role("button", name="Set password").click()
    await expect(page.get_by_role("heading", name="Password changed")).to_be_visible()
    await expect(page.get_by_text("Your password has been changed. You can sign in now.")).to_be_visible()
    await screenshot(page, "reset-password-done")
    clean(page)

    assert (await api.login(EMAIL, NEW_PASSWORD))["access_token"]
    assert codes(await api.gql(LOGIN, {"email": EMAIL, "password": PASSWORD})) == ["INVALID_CREDENTIALS"]

    # The same link again: used up, and said so in words.
    await page.goto(link)
    await page.get_by_label("New password").fill("yet another passphrase")
    await page.get_by_role("button", name="Set password").click()
    await expect(page.get_by_role("alert")).to_contain_text("This link is not valid, or it has already been used.")
    await expect(page.get_by_role("alert")).to_contain_text("INVALID_TOKEN")
    assert page.offline.refused == []


async def test_verify_email_from_the_mailed_link(
    serve: Callable[..., Any], outbox: Outbox, page: Any, screenshot: Any
) -> None:
    async with serve(EMAIL_VERIFICATION=True) as server:
        register = "mutation($e: String!, $p: String!) { users_register(email: $e, password: $p) }"
        assert (await server.api.gql(register, {"e": EMAIL, "p": PASSWORD}))["data"]["users_register"]
        link = await mailed_link(outbox, EMAIL, server, "/auth/pages/verify-email")
        assert (await User.get(email=EMAIL)).status == Status.unverified

        await page.goto(link)
        await expect(page.get_by_role("heading", name="Verify your email")).to_be_visible()
        await token_left_the_address_bar(page, "/auth/pages/verify-email", server)
        await page.get_by_role("button", name="Confirm my email address").click()
        await expect(page.get_by_role("heading", name="Email verified")).to_be_visible()
        await expect(page.get_by_text("Thank you, your email address is verified.")).to_be_visible()
        await screenshot(page, "verify-email")
        clean(page)

        token = (await server.api.login(EMAIL, PASSWORD))["access_token"]
        me = (await server.api.gql(ME, token=token))["data"]["users_me"]
        assert me == {"email": EMAIL, "email_verified": True}
        assert (await User.get(email=EMAIL)).status == Status.active


async def test_accept_an_invitation_from_the_mailed_link(
    live_server: LiveServer, outbox: Outbox, page: Any, screenshot: Any
) -> None:
    api = live_server.api
    await api.signup("admin@example.com", PASSWORD)
    await User.filter(email="admin@example.com").update(role=Role.admin)
    admin = (await api.login("admin@example.com", PASSWORD))["access_token"]
    invite = "mutation($email: String!) { users_invite(email: $email) }"
    assert (await api.gql(invite, {"email": EMAIL}, token=admin))["data"]["users_invite"] is True
    link = await mailed_link(outbox, EMAIL, live_server, "/auth/pages/accept-invite")

    await page.goto(link)
    await expect(page.get_by_role("heading", name="Accept your invitation")).to_be_visible()
    await token_left_the_address_bar(page, "/auth/pages/accept-invite", live_server)
    await page.get_by_label("Choose a password").fill(PASSWORD)
    await page.get_by_role("button", name="Create my account").click()
    await expect(page.get_by_role("heading", name="Welcome")).to_be_visible()
    await expect(page.get_by_text("Your account is ready. You can sign in now.")).to_be_visible()
    await screenshot(page, "accept-invite")
    clean(page)

    token = (await api.login(EMAIL, PASSWORD))["access_token"]
    assert (await api.gql(ME, token=token))["data"]["users_me"]["email"] == EMAIL


# --- social sign-in with a second factor ------------------------------------------------


@pytest.fixture(scope="module")
def op() -> Iterator[OpenIDProvider]:
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # the test provider speaks plain http on loopback
    provider = OpenIDProvider().start()
    yield provider
    provider.stop()


async def test_social_sign_in_asks_for_the_code_of_an_account_with_mfa(
    serve: Callable[..., Any], op: OpenIDProvider, page: Any, screenshot: Any
) -> None:
    op.person = {"sub": "op-ana", "email": EMAIL, "email_verified": True, "name": "Ana Lima"}
    settings = {
        "AUTH_PROVIDERS": "oidc",
        "AUTH_OIDC_DRIVER": "openid",
        "AUTH_OIDC_CLIENT_ID": "oidc-client",
        "AUTH_OIDC_CLIENT_SECRET": "oidc-secret",
        "AUTH_OIDC_ISSUER_URL": op.issuer,
        "AUTH_OIDC_REDIRECT_ALLOW_LIST": APP,
    }
    async with serve(**settings) as server:
        op.add_client("oidc-client", "oidc-secret", f"{server.url}/auth/login/oidc/callback")
        api = server.api
        await api.signup(EMAIL, PASSWORD)
        access = (await api.login(EMAIL, PASSWORD))["access_token"]
        generate = "mutation($p: String!) { users_me_tfa_generate(password: $p) { secret } }"
        secret = (await api.gql(generate, {"p": PASSWORD}, token=access))["data"]["users_me_tfa_generate"]["secret"]
        totp = pyotp.TOTP(secret)
        # Enabled with the previous step's code, so the current one is still unused for the page.
        enable = "mutation($otp: String!, $secret: String!) { users_me_tfa_enable(otp: $otp, secret: $secret) }"
        enabled = await api.gql(enable, {"otp": totp.at(time.time() - 30), "secret": secret}, token=access)
        assert enabled["data"]["users_me_tfa_enable"] is True, enabled

        # The app the person comes back to (off this machine: answered here, not fetched).
        await page.route(
            f"{APP}*",
            lambda route: route.fulfill(content_type="text/html", body="<title>App</title><h1>Back in the app</h1>"),
        )
        await page.goto(f"{server.url}/auth/login/oidc?redirect={quote(APP)}")
        # The provider signed Ana in and sent her back; the account has MFA, so: the code.
        await expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
        assert page.url == f"{server.url}/auth/pages/otp"
        assert not [c for c in await page.context.cookies() if c["name"] == "refresh_token"]

        field = page.get_by_label("Code from your authenticator app")
        await field.fill("000000")
        await page.get_by_role("button", name="Continue").first.click()
        alert = page.get_by_role("alert")
        await expect(alert).to_contain_text("That code is not right. Try again with a new code.")
        await expect(alert).to_contain_text("INVALID_OTP")
        await screenshot(page, "oauth-otp-wrong")

        # The form is there again: the right code finishes the sign-in.
        await page.get_by_label("Code from your authenticator app").fill(totp.now())
        await screenshot(page, "oauth-otp")
        await page.get_by_role("button", name="Continue").first.click()
        await expect(page.get_by_role("heading", name="Back in the app")).to_be_visible()
        assert page.url == APP
        [refresh] = [c for c in await page.context.cookies(server.url) if c["name"] == "refresh_token"]
        assert refresh["httpOnly"] and refresh["value"]
        clean(page, "Failed to load resource: the server responded with a status of 401 (Unauthorized)")

        # The cookie is a working session.
        renewed = await api.gql(
            "mutation($t: String) { auth_refresh(refresh_token: $t) { access_token } }", {"t": refresh["value"]}
        )
        me = await api.gql(ME, token=renewed["data"]["auth_refresh"]["access_token"])
        assert me["data"]["users_me"]["email"] == EMAIL


# --- passkeys -----------------------------------------------------------------------------


async def virtual_authenticator(page: Any) -> Any:
    """Chromium's virtual platform authenticator: it keeps discoverable credentials and
    verifies the user (as a fingerprint would), which our passkeys require."""
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("WebAuthn.enable")
    added = await cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


async def signed_in_as(server: LiveServer, page: Any) -> str | None:
    """Who the browser's session cookie signs in, asked over the API as that browser would."""
    cookies = {c["name"]: c["value"] for c in await page.context.cookies(server.url)}
    if "session_token" not in cookies:
        return None
    answer = await server.api.http.post(
        "/graphql",
        json={"query": ME},
        headers={"Origin": server.url, "Cookie": f"session_token={cookies['session_token']}"},
    )
    user = answer.json()["data"]["users_me"]
    return user and user["email"]


async def test_add_a_passkey_and_sign_in_with_it(live_server: LiveServer, page: Any, screenshot: Any) -> None:
    server = live_server
    await server.api.signup(EMAIL, PASSWORD)
    cdp, authenticator = await virtual_authenticator(page)

    # Signed in (mode session), as the app's own sign-in would leave the browser.
    async with httpx.AsyncClient(base_url=server.url) as client:
        login = "mutation($e: String!, $p: String!) { auth_login(email: $e, password: $p, mode: session) { expires } }"
        answer = await client.post("/graphql", json={"query": login, "variables": {"e": EMAIL, "p": PASSWORD}})
        assert answer.json()["data"]["auth_login"]["expires"], answer.text
        session = answer.cookies["session_token"]
    await page.context.add_cookies([{"name": "session_token", "value": session, "url": server.url, "httpOnly": True}])
    await Session.all().update(created_at=datetime.now(UTC) - timedelta(minutes=20))

    await page.goto(f"{server.url}/auth/pages/passkeys")
    await expect(page.get_by_role("heading", name="Your passkeys")).to_be_visible()
    await expect(page.get_by_text("You have no passkeys yet.")).to_be_visible()
    await page.get_by_label("Name of the new passkey").fill("This laptop")
    await page.get_by_role("button", name="Add a passkey").click()
    # The sign-in was long enough ago that adding a way in asks for the password first.
    await expect(page.get_by_role("alert")).to_contain_text("Confirm it is you")
    await page.get_by_label("Your password").fill(PASSWORD)
    await page.get_by_role("button", name="Add a passkey").click()
    added = page.get_by_role("listitem").filter(has_text="This laptop")
    await expect(added).to_be_visible()
    remove = added.get_by_role("button", name="Remove This laptop")
    await expect(remove).to_be_visible()
    # Removing acts on its row: a small button beside it, not one like the page's main action.
    add_box = await page.get_by_role("button", name="Add a passkey").bounding_box()
    assert (await remove.bounding_box())["width"] < add_box["width"] / 3
    await expect(page.get_by_text("You have no passkeys yet.")).to_be_hidden()
    await expect(page.get_by_role("alert")).to_be_hidden()
    await screenshot(page, "passkey-register")
    credentials = (await cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator}))["credentials"]
    assert len(credentials) == 1 and credentials[0]["isResidentCredential"]

    # Signed out; back with the passkey and the email, to the page it came from.
    await page.context.clear_cookies()
    back = f"{server.url}/auth/pages/passkeys"
    await page.goto(f"{server.url}/auth/pages/passkey-login?redirect={quote(back)}")
    await expect(page.get_by_role("heading", name="Sign in with a passkey")).to_be_visible()
    await page.get_by_label("Email (optional)").fill(EMAIL)
    await screenshot(page, "passkey-login")
    await page.get_by_role("button", name="Sign in with a passkey").click()
    await page.wait_for_url(back)
    await expect(page.get_by_role("listitem").filter(has_text="This laptop")).to_be_visible()
    assert await signed_in_as(server, page) == EMAIL

    # Signed out again; this time without the email: the device offers its passkey.
    await page.context.clear_cookies()
    await page.goto(f"{server.url}/auth/pages/passkey-login")
    await page.get_by_role("button", name="Sign in with a passkey").click()
    await expect(page.get_by_role("status")).to_have_text("You are signed in. You can close this page.")
    await screenshot(page, "passkey-login-done")
    assert await signed_in_as(server, page) == EMAIL

    # And the passkey can go again.
    await page.goto(f"{server.url}/auth/pages/passkeys")
    await page.get_by_role("button", name="Remove This laptop").click()
    await expect(page.get_by_text("You have no passkeys yet.")).to_be_visible()
    assert await Passkey.all().count() == 0
    clean(page)
