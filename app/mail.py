"""Outgoing mail: a small Protocol with an SMTP transport (aiosmtplib) and a log one."""

from __future__ import annotations

import logging
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


class Mailer(Protocol):
    async def send(self, mail: Mail) -> None: ...


class LogMailer:
    """EMAIL_TRANSPORT=log: the development default; the mail is printed to the log."""

    def __init__(self) -> None:
        self.outbox: list[Mail] = []

    async def send(self, mail: Mail) -> None:
        self.outbox.append(mail)
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
        message.set_content(mail.text)
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
            log.error("sending mail to the SMTP server failed: %s", exc)
            raise ServiceUnavailable("The mail service is unavailable.") from exc


def mailer_for(settings: Settings) -> Mailer:
    return SmtpMailer(settings) if settings.email_transport == "smtp" else LogMailer()
