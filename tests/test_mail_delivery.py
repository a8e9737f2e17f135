"""Nothing tells whether an email exists, even when the mail server is slow or down: the
enumeration-safe paths answer first and mail afterwards; a failed mail is logged (domain
only) and leaves nothing that blocks a retry."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from app.models import OneTimeToken, Status, User
from tests.conftest import BASE_URL, Api, Outbox, _free_port, make_settings, running_app, text_of

SMTP_DELAY = 2.0
# Well under the mail server's delay even on a busy machine; an awaited mail would take longer.
QUICK = 1.5
REGISTER = """mutation($email: String!) {
  users_register(email: $email, password: "correct horse battery", first_name: "Ana", last_name: "Lima")
}"""
RESET = "mutation($email: String!) { auth_password_request(email: $email) }"
MAGIC = "mutation($email: String!) { auth_magic_link_request(email: $email) }"
VERIFY = "mutation($token: String!) { users_register_verify(token: $token) }"
TAKEN = "ana@example.com"
# Each path with an address it does not know (the new one signs up, so it is not reused).
PAIRS = ((REGISTER, "new@example.com"), (RESET, "nobody@example.com"), (MAGIC, "no@example.com"))


class SlowOutbox(Outbox):
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook
        await asyncio.sleep(SMTP_DELAY)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture(scope="module")
def slow_smtp() -> Iterator[Controller]:
    controller = Controller(SlowOutbox(), hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller
    controller.stop()


@asynccontextmanager
async def app_mailing_to(port: int) -> AsyncIterator[Api]:
    settings = make_settings(
        EMAIL_VERIFICATION="true", EMAIL_TRANSPORT="smtp", EMAIL_SMTP_HOST="127.0.0.1", EMAIL_SMTP_PORT=str(port)
    )
    async with running_app(settings) as api:
        await User.create(email=TAKEN, password_hash="x", status=Status.active)
        yield api


@asynccontextmanager
async def answers_only(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    """A client that takes the answer and goes (the `api` client waits for queued mail)."""
    transport = httpx.ASGITransport(app=api.app, client=("127.0.0.1", 40001))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client


async def ask(client: httpx.AsyncClient, query: str, email: str) -> tuple[int, bytes, float]:
    started = time.monotonic()
    response = await client.post("/graphql", json={"query": query, "variables": {"email": email}})
    return response.status_code, response.content, time.monotonic() - started


async def rest_ask(client: httpx.AsyncClient, email: str) -> tuple[int, bytes, float]:
    started = time.monotonic()
    response = await client.post("/auth/password/request", json={"email": email})
    return response.status_code, response.content, time.monotonic() - started


async def test_answers_do_not_wait_for_a_slow_mail_server(slow_smtp: Controller) -> None:
    outbox: Outbox = slow_smtp.handler
    outbox.clear()
    async with app_mailing_to(slow_smtp.port) as api, answers_only(api) as client:
        for query, unknown in PAIRS:
            status, taken, taken_time = await ask(client, query, TAKEN)
            new_status, new, new_time = await ask(client, query, unknown)
            # Not a performance assertion: 2 s of SMTP would show in either if awaited.
            assert (status, taken) == (new_status, new) and status == 200, query
            assert taken_time < QUICK and new_time < QUICK, (query, taken_time, new_time)
        rest = [await rest_ask(client, email) for email in (TAKEN, "nobody@example.com")]
        assert rest[0][:2] == rest[1][:2] == (204, b"") and rest[0][2] < QUICK and rest[1][2] < QUICK
        await api.services.mail_queue.drain()
        # The mail still went: "taken", reset twice and magic link to Ana; the verification to
        # the new address.
        assert len(outbox.to(TAKEN)) == 4
        assert not outbox.to("nobody@example.com") and not outbox.to("no@example.com")
        [verification] = outbox.to("new@example.com")
        assert verification["Subject"] == "Verify your email address"


async def test_answers_are_the_same_when_the_mail_server_is_down(caplog: pytest.LogCaptureFixture) -> None:
    down = _free_port()
    async with app_mailing_to(down) as api, answers_only(api) as client:
        with caplog.at_level(logging.INFO, logger="app"):
            for query, unknown in PAIRS:
                taken = await ask(client, query, TAKEN)
                new = await ask(client, query, unknown)
                assert taken[:2] == new[:2] and taken[0] == 200, (query, taken, new)
                assert b"errors" not in new[1]
            rest = [await rest_ask(client, email) for email in (TAKEN, "nobody@example.com")]
            assert rest[0][:2] == rest[1][:2] == (204, b"")
            await api.services.mail_queue.drain()
        # Nothing half-written is left: the unsent links are void and the sign-up that could
        # not be verified is gone, so the owner can simply sign up again.
        assert await OneTimeToken.all().count() == 0
        assert [u.email for u in await User.all()] == [TAKEN]
        # Logged with the recipient's domain only: never the address, never a link.
        failures = [r.getMessage() for r in caplog.records if r.name == "app.mail" and r.levelno >= logging.ERROR]
        assert failures and all("@example.com" in line for line in failures)
        assert "ana@example.com" not in caplog.text and "new@example.com" not in caplog.text
        assert "token=" not in caplog.text


async def test_a_sign_up_whose_mail_failed_can_be_retried() -> None:
    port = _free_port()
    async with app_mailing_to(port) as api:
        assert await api.gql(REGISTER, {"email": "new@example.com"}) == {"data": {"users_register": True}}
        assert not await User.filter(email="new@example.com").exists()
        outbox = Outbox()
        controller = Controller(outbox, hostname="127.0.0.1", port=port)
        controller.start()  # the mail server is back
        try:
            assert await api.gql(REGISTER, {"email": "new@example.com"}) == {"data": {"users_register": True}}
        finally:
            controller.stop()
        [message] = outbox.to("new@example.com")
        body = text_of(message)
        token = re.search(r"token=([A-Za-z0-9_\-]+)", body)
        assert token, body
        assert await api.gql(VERIFY, {"token": token.group(1)}) == {"data": {"users_register_verify": True}}
        assert (await User.get(email="new@example.com")).status == Status.active


class RefusesVerification(Outbox):
    """Takes its time over verification mail and then refuses it; delivers the rest."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook
        if b"Subject: Verify your email address" in envelope.content:
            await asyncio.sleep(1.0)
            return "554 refused"
        return await super().handle_DATA(server, session, envelope)


async def test_a_failed_verification_mail_keeps_an_account_proven_meanwhile() -> None:
    outbox = RefusesVerification()
    controller = Controller(outbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        async with app_mailing_to(controller.port) as api, answers_only(api) as client:
            await ask(client, REGISTER, "new@example.com")
            # While the verification mail is on its way to failing, a reset link arrives and
            # is used: that proves the address, so the failure must not remove the account.
            await ask(client, RESET, "new@example.com")
            for _ in range(50):
                if outbox.to("new@example.com"):
                    break
                await asyncio.sleep(0.02)
            [reset] = outbox.to("new@example.com")
            token = re.search(r"token=([A-Za-z0-9_\-]+)", text_of(reset))
            assert token
            password_reset = 'mutation($t: String!) { auth_password_reset(token: $t, password: "a new passphrase") }'
            answer = await client.post("/graphql", json={"query": password_reset, "variables": {"t": token.group(1)}})
            assert answer.json() == {"data": {"auth_password_reset": True}}
            await api.services.mail_queue.drain()
            user = await User.get(email="new@example.com")
            assert user.status == Status.active and user.email_verified
            await api.login("new@example.com", "a new passphrase")
    finally:
        controller.stop()
