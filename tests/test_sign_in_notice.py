"""EMAIL_NEW_SIGN_IN_NOTICE: a sign-in from a browser without the account's device cookie
mails the owner, after answering and never in the way of the sign-in."""

from __future__ import annotations

from typing import Any

from aiosmtpd.controller import Controller

from app.models import User
from tests.conftest import (
    Api,
    Outbox,
    _free_port,
    another_client,
    codes,
    html_of,
    make_settings,
    running_app,
    text_of,
)

HOSTILE_AGENT = "Mallory https://evil.test/r?token=x <b>"
SUBJECT = "New sign-in to your account"


def _app(port: int, **env: str) -> Any:
    smtp = {"EMAIL_TRANSPORT": "smtp", "EMAIL_SMTP_HOST": "127.0.0.1", "EMAIL_SMTP_PORT": str(port)}
    return running_app(make_settings(**smtp, **env))


async def test_a_sign_in_from_a_new_browser_is_mailed_to_the_owner(smtp_server: Any) -> None:
    outbox: Outbox = smtp_server.handler
    async with _app(smtp_server.port, EMAIL_NEW_SIGN_IN_NOTICE="true") as api:
        await api.signup()
        outbox.clear()
        await api.login()
        assert outbox.messages == []  # the account's first sign-in: every browser is new
        await api.login()
        assert outbox.messages == []  # this browser now holds the device cookie
        async with another_client(api) as elsewhere:
            elsewhere.http.headers["User-Agent"] = HOSTILE_AGENT
            await elsewhere.login()
            await api.services.mail_queue.drain()
            [notice] = outbox.to("ana@example.com")
            assert notice["Subject"] == SUBJECT
            for part in (text_of(notice), html_of(notice)):
                assert "signed in to at" in part and "http://127.0.0.1:8000" in part
                assert "Mallory" not in part and "evil.test" not in part  # nothing from the request
            outbox.clear()
            await elsewhere.login()  # now a known browser too
            await api.services.mail_queue.drain()
            assert outbox.messages == []


async def test_no_notice_by_default(api: Api, outbox: Outbox) -> None:
    await api.signup()
    await api.login()
    async with another_client(api) as elsewhere:
        await elsewhere.login()
    await api.services.mail_queue.drain()
    assert outbox.messages == []


async def test_a_dead_mail_server_does_not_stop_the_sign_in() -> None:
    async with _app(_free_port(), EMAIL_NEW_SIGN_IN_NOTICE="true") as api:
        await api.signup()
        await api.login()
        async with another_client(api) as elsewhere:
            tokens = await elsewhere.login()
            assert tokens["access_token"]
            me = await elsewhere.gql("{ users_me { email } }", token=tokens["access_token"])
            assert codes(me) == [] and me["data"]["users_me"]["email"] == "ana@example.com"
        await api.services.mail_queue.drain()
        assert (await User.get(email="ana@example.com")).last_login_at is not None


async def test_the_notice_is_sent_by_a_real_server_only_once_per_browser() -> None:
    # A second SMTP server of this test's own, so the count is exact.
    outbox = Outbox()
    controller = Controller(outbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        async with _app(controller.port, EMAIL_NEW_SIGN_IN_NOTICE="true") as api:
            await api.signup()
            await api.login()
            for _ in range(2):
                async with another_client(api) as elsewhere:
                    await elsewhere.login()
                    await elsewhere.login()
            await api.services.mail_queue.drain()
    finally:
        controller.stop()
    assert [m["Subject"] for m in outbox.to("ana@example.com")] == [SUBJECT, SUBJECT]
