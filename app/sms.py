"""Outgoing text messages: one small Protocol, a `log` transport that developers and tests
read, and Twilio's Messages API over httpx."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from app.config import Settings
from app.errors import ServiceUnavailable

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("app.sms")

TWILIO_API = "https://api.twilio.com/2010-04-01"


class SmsSender(Protocol):
    async def send(self, to: str, body: str) -> None: ...


class LogSms:
    """SMS_TRANSPORT=log: each text goes to the log and, with SMS_LOG_FILE, is appended to
    that file as a JSON line {"to", "body", "sent_at"}."""

    def __init__(self, log_file: str | None = None) -> None:
        self.log_file = Path(log_file) if log_file else None

    async def send(self, to: str, body: str) -> None:
        log.info("sms to %s: %s", to, body)
        if self.log_file:
            line = json.dumps({"to": to, "body": body, "sent_at": datetime.now(UTC).isoformat()})
            with self.log_file.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")


class TwilioSms:
    """POST /Accounts/{AccountSid}/Messages.json, form-encoded To/From/Body, HTTP basic
    auth with the account SID and auth token (Twilio's documented Messages API)."""

    def __init__(
        self, account_sid: str, auth_token: str, sender: str, transport: httpx.AsyncBaseTransport | None = None
    ):
        self.url = f"{TWILIO_API}/Accounts/{account_sid}/Messages.json"
        self.auth = (account_sid, auth_token)
        self.sender = sender
        self.transport = transport

    async def send(self, to: str, body: str) -> None:
        import httpx  # with the first text: a server that makes no outbound call does without its 2 MB

        try:
            async with httpx.AsyncClient(transport=self.transport, timeout=10) as client:
                response = await client.post(
                    self.url, data={"To": to, "From": self.sender, "Body": body}, auth=self.auth
                )
        except httpx.HTTPError as exc:
            log.error("Twilio request failed: %s", exc)
            raise ServiceUnavailable("The SMS service is unavailable.") from exc
        if response.status_code >= 300:
            log.error("Twilio answered %s: %s", response.status_code, response.text[:500])
            raise ServiceUnavailable("The SMS service is unavailable.")


def sms_sender_for(settings: Settings) -> SmsSender:
    if settings.sms_transport == "twilio":
        return TwilioSms(
            settings.twilio_account_sid or "", settings.twilio_auth_token or "", settings.twilio_from or ""
        )
    return LogSms(settings.sms_log_file)
