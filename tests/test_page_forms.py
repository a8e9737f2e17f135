"""Every page form refuses cross-site posts (login CSRF and friends): a foreign Origin or
Sec-Fetch-Site, a missing or wrong CSRF token; our own page in the same browser works."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import httpx

from app.models import OneTimeToken, Role, Session, User
from tests.conftest import BASE_URL, Api, Outbox, codes, csrf, text_of

SAME_ORIGIN = {"Origin": BASE_URL, "Sec-Fetch-Site": "same-origin"}
FORGERIES: list[tuple[str, dict[str, str]]] = [
    ("foreign Origin", {"Origin": "https://evil.example"}),
    ("Origin null", {"Origin": "null"}),
    ("another port", {"Origin": "http://127.0.0.1:8001"}),
    ("cross-site fetch", {"Sec-Fetch-Site": "cross-site"}),
    ("same-site fetch", {"Sec-Fetch-Site": "same-site"}),
    ("foreign Origin, same-origin fetch claim", {"Origin": "https://evil.example", "Sec-Fetch-Site": "same-origin"}),
]


def _link(outbox: Outbox, address: str) -> str:
    body = text_of(outbox.to(address)[-1])
    match = re.search(r"(https?://\S+token=\S+)", body)
    assert match, body
    return match.group(1)


def _refused(response: httpx.Response, what: str = "") -> None:
    assert response.status_code == 403, (what, response.text)
    assert "<code>FORBIDDEN</code>" in response.text
    assert "session_token=" not in response.headers.get("set-cookie", "")


async def _forgeries_are_refused(api: Api, link: str, data: dict[str, str]) -> httpx.Response:
    """Every forged post is refused; then our own page's post, which is returned."""
    path = urlsplit(link).path
    form = await api.http.get(link)
    assert form.status_code == 200
    cookie = form.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    field = csrf(form)
    for what, headers in FORGERIES:
        _refused(await api.http.post(path, data={**data, **field}, headers=headers), what)
    _refused(await api.http.post(path, data=data, headers=SAME_ORIGIN))  # no token
    _refused(await api.http.post(path, data={**data, "csrf_token": "x" * 43}, headers=SAME_ORIGIN))  # wrong one
    _refused(await api.http.post(path, data={**data, "csrf_token": ""}, headers=SAME_ORIGIN))
    # The field alone, without this browser's cookie (a token copied from another browser).
    jar = httpx.Cookies(api.http.cookies)
    api.http.cookies.clear()
    _refused(await api.http.post(path, data={**data, **field}, headers=SAME_ORIGIN))
    api.http.cookies = jar
    # Tabs share the browser's token; a browser that opens the link directly sends no
    # Sec-Fetch-Site: same-origin and no Origin (older ones), and is still let through.
    again = await api.http.get(link)
    assert csrf(again) == field
    return await api.http.post(path, data={**data, **field}, headers=SAME_ORIGIN)


async def test_magic_link_page(api: Api, outbox: Outbox) -> None:
    await api.signup()
    request = "mutation($email: String!) { auth_magic_link_request(email: $email) }"
    assert (await api.gql(request, {"email": "ana@example.com"}))["data"]["auth_magic_link_request"]
    link = _link(outbox, "ana@example.com")
    token = link.split("token=")[1]
    done = await _forgeries_are_refused(api, link, {"token": token})
    assert done.status_code == 200 and "session_token=" in done.headers["set-cookie"]
    assert await Session.filter(revoked_at=None).count() == 1  # only the page's own sign-in


async def test_reset_password_page(api: Api, outbox: Outbox) -> None:
    await api.signup()
    request = "mutation($email: String!) { auth_password_request(email: $email) }"
    await api.gql(request, {"email": "ana@example.com"})
    link = _link(outbox, "ana@example.com")
    data = {"token": link.split("token=")[1], "password": "a brand new passphrase"}
    done = await _forgeries_are_refused(api, link, data)
    assert done.status_code == 200 and "Password changed" in done.text
    await api.login(password="a brand new passphrase")


async def test_verify_email_page(api: Api, outbox: Outbox) -> None:
    await api.signup()
    token = (await api.login())["access_token"]
    await api.gql("mutation { users_me_email_verify_request }", token=token)
    link = _link(outbox, "ana@example.com")
    done = await _forgeries_are_refused(api, link, {"token": link.split("token=")[1]})
    assert done.status_code == 200 and (await User.get(email="ana@example.com")).email_verified


async def test_accept_invite_page(api: Api, outbox: Outbox) -> None:
    await api.signup("admin@example.com")
    await User.filter(email="admin@example.com").update(role=Role.admin)
    admin = (await api.login("admin@example.com"))["access_token"]
    invite = "mutation($email: String!) { users_invite(email: $email) }"
    assert (await api.gql(invite, {"email": "new@example.com"}, token=admin))["data"]["users_invite"]
    link = _link(outbox, "new@example.com")
    data = {"token": link.split("token=")[1], "password": "my own passphrase"}
    done = await _forgeries_are_refused(api, link, data)
    assert done.status_code == 200 and "Welcome" in done.text
    await api.login("new@example.com", "my own passphrase")


async def test_a_refused_post_spends_nothing(api: Api, outbox: Outbox) -> None:
    await api.signup()
    await api.gql("mutation($e: String!) { auth_magic_link_request(email: $e) }", {"e": "ana@example.com"})
    link = _link(outbox, "ana@example.com")
    token = link.split("token=")[1]
    form = await api.http.get(link)
    forged = await api.http.post(
        "/auth/pages/magic-link", data={"token": token, **csrf(form)}, headers={"Origin": "https://evil.example"}
    )
    _refused(forged)
    assert await OneTimeToken.filter(used_at=None).count() == 1
    login = "mutation($t: String!) { auth_magic_link_login(token: $t) { access_token } }"
    assert codes(await api.gql(login, {"t": token})) == []


async def test_the_second_factor_page(api: Api) -> None:
    # Its ticket comes from a social sign-in (tests/test_social.py runs the whole flow); the
    # CSRF check comes first, so without a ticket a forged post is FORBIDDEN and ours is not.
    post: Callable[..., Awaitable[httpx.Response]] = api.http.post
    form = await api.http.get("/auth/pages/otp")
    for what, headers in FORGERIES:
        _refused(await post("/auth/pages/otp", data={"otp": "123456", **csrf(form)}, headers=headers), what)
    _refused(await post("/auth/pages/otp", data={"otp": "123456"}, headers=SAME_ORIGIN))
    ours = await post("/auth/pages/otp", data={"otp": "123456", **csrf(form)}, headers=SAME_ORIGIN)
    assert ours.status_code == 401 and "INVALID_TOKEN" in ours.text


async def test_https_pages_use_a_host_only_secure_cookie(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(PUBLIC_URL="https://auth.example.com") as api:
        form = await api.http.get("/auth/pages/magic-link?token=abc")
        cookie = form.headers["set-cookie"]
        assert cookie.startswith("__Host-pages_csrf=") and "Secure" in cookie and "Domain" not in cookie
        assert form.headers["referrer-policy"] == "strict-origin"


async def test_the_magic_link_page_asks_an_account_with_mfa_for_its_code(api: Api, outbox: Outbox) -> None:
    import pyotp

    from tests.test_budgets import with_second_factor

    await api.signup()
    secret = await with_second_factor()
    request = "mutation($email: String!) { auth_magic_link_request(email: $email) }"
    await api.gql(request, {"email": "ana@example.com"})
    link = _link(outbox, "ana@example.com")
    data = {"token": link.split("token=")[1]}
    path = urlsplit(link).path
    field = csrf(await api.http.get(link))
    asked = await api.http.post(path, data={**data, **field}, headers=SAME_ORIGIN)
    # No code yet: the same page asks for one, and the link is not spent.
    assert asked.status_code == 401 and "<code>INVALID_OTP</code>" in asked.text
    assert 'name="otp"' in asked.text and 'autocomplete="one-time-code"' in asked.text
    wrong = await api.http.post(path, data={**data, **field, "otp": "000000"}, headers=SAME_ORIGIN)
    assert wrong.status_code == 401 and 'name="otp"' in wrong.text
    right = await api.http.post(path, data={**data, **field, "otp": pyotp.TOTP(secret).now()}, headers=SAME_ORIGIN)
    assert right.status_code == 200 and "session_token=" in right.headers["set-cookie"]
    assert await Session.filter(revoked_at=None).count() == 1
