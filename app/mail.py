"""Outgoing mail: a small Protocol with an SMTP transport (aiosmtplib) and a log one.

Mails are written from templates (`app/mail_templates.py`); this module only carries them."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

from app.config import Settings
from app.errors import ServiceUnavailable

log = logging.getLogger("app.mail")


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str | None = None  # sent as the preferred alternative to `text`


class Mailer(Protocol):
    async def send(self, mail: Mail) -> None: ...


class LogMailer:
    """EMAIL_TRANSPORT=log: the development default; the mail's text part is printed to the log."""

    async def send(self, mail: Mail) -> None:
        log.info("mail to %s: %s\n%s", mail.to, mail.subject, mail.text)


class SmtpMailer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, mail: Mail) -> None:
        s = self.settings
        message = EmailMessage()
        message["From"] = s.email_from
        message["To"] = mail.to
        message["Subject"] = mail.subject
        # multipart/alternative: clients show the last part they can, so the HTML comes last.
        message.set_content(mail.text)
        if mail.html is not None:
            message.add_alternative(mail.html, subtype="html")
        try:
            await aiosmtplib.send(
                message,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_user,
                password=s.smtp_password,
                use_tls=s.smtp_secure,
                start_tls=s.smtp_starttls,
                timeout=10,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            log.error("mail to %s could not be sent: %s", recipient_domain(mail.to), _reason(exc))
            raise ServiceUnavailable("The mail service is unavailable.") from None


class MailQueue:
    """Sends after the answer has gone. For requests whose answer must not depend on
    whether an account exists (password reset, magic link, sign-up of a taken address),
    neither SMTP's latency nor its failure may show in the response."""

    def __init__(self, mailer: Mailer) -> None:
        self.mailer = mailer
        self._pending: set[asyncio.Task[None]] = set()

    def send_soon(
        self,
        mail: Mail,
        on_failure: Callable[[], Awaitable[None]] | None = None,
        allowed: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        """`allowed` runs in the background first (a budget, app/services/postbox.py); when it
        says no, the mail is dropped as if it had failed."""
        task = asyncio.get_running_loop().create_task(self._send(mail, on_failure, allowed))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def drain(self) -> None:
        """Wait for everything queued (shutdown; tests reading the outbox)."""
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def _send(
        self,
        mail: Mail,
        on_failure: Callable[[], Awaitable[None]] | None,
        allowed: Callable[[], Awaitable[bool]] | None,
    ) -> None:
        # Logged, never raised (nobody is waiting for the answer), and without the address or
        # the mail: the log shows the recipient's domain and, for a bug, where it happened.
        try:
            if allowed is None or await allowed():
                await self.mailer.send(mail)
                return
            # Not allowed (`allowed` logged why): cleaned up below, as after a failure.
        except ServiceUnavailable:
            log.error("queued mail to %s was not sent", recipient_domain(mail.to))
        except Exception as exc:
            where = "".join(traceback.format_tb(exc.__traceback__))
            log.error("queued mail to %s failed: %s\n%s", recipient_domain(mail.to), type(exc).__name__, where)
        if on_failure is not None:
            try:
                await on_failure()
            except Exception as exc:
                log.error("cleaning up after an unsent mail failed: %s", type(exc).__name__)


def recipient_domain(address: str) -> str:
    """What the log may say about a recipient: `@example.com`, never the whole address."""
    return "@" + address.rpartition("@")[2]


def _reason(exc: Exception) -> str:
    # An SMTP server's reply may quote the recipient; its code says enough.
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"{type(exc).__name__} {exc.code}"
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


def mailer_for(settings: Settings) -> Mailer:
    if settings.email_transport == "smtp":
        return SmtpMailer(settings)
    if settings.env == "production":
        # The log transport prints whole mails, sign-in and reset links included: a
        # development aid that hands tokens to whoever reads the logs.
        log.warning("EMAIL_TRANSPORT=log in production: mails, with their links, go to the log; use smtp")
    return LogMailer()
