"""Sign-in codes sent by text: 6 digits, keyed-hashed, 10 minutes, 5 tries, one use,
rate limited per number and per client."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from tortoise.expressions import F
from tortoise.queryset import QuerySet

from app.auth.identifiers import normalize_phone
from app.auth.secrets import derive_key
from app.config import Settings
from app.errors import InvalidCredentials, RequestsExceeded, ServiceUnavailable
from app.models import PhoneCode
from app.services.client import ClientInfo, now
from app.sms import SmsSender

CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
WINDOW = timedelta(hours=1)
CLIENT_FACTOR = 4  # one client may ask for a few numbers' worth of codes per hour


class PhoneCodes:
    def __init__(self, settings: Settings, sms: SmsSender) -> None:
        self.settings = settings
        self.sms = sms
        # A keyed hash: six digits are a million guesses, trivial offline against a plain
        # sha256 from a leaked table, not without the server secret.
        self.key = derive_key(settings.secret, "phone-code")

    async def request_code(self, phone: str, client: ClientInfo) -> None:
        number = normalize_phone(phone)
        since = now() - WINDOW
        limit = self.settings.sms_code_requests_per_hour
        await self._check_rate(PhoneCode.filter(phone=number, created_at__gt=since), limit)
        if client.ip:
            await self._check_rate(PhoneCode.filter(ip=client.ip, created_at__gt=since), limit * CLIENT_FACTOR)
        code = f"{secrets.randbelow(10**6):06d}"
        # Only the newest code counts: asking again must not multiply the tries.
        await PhoneCode.filter(phone=number, used_at=None).update(used_at=now())
        record = await PhoneCode.create(
            phone=number, code_hash=self._hash(number, code), ip=client.ip, expires_at=now() + CODE_TTL
        )
        try:
            await self.sms.send(number, f"Your verification code is {code}. It expires in 10 minutes.")
        except ServiceUnavailable:
            await record.delete()
            raise

    async def verify(self, phone: str, code: str) -> str:
        """The E.164 number if `code` is its current code; the code is then spent."""
        number = normalize_phone(phone)
        record = (
            await PhoneCode.filter(phone=number, used_at=None, expires_at__gt=now(), attempts__lt=MAX_ATTEMPTS)
            .order_by("-created_at")
            .first()
        )
        if record is None:
            raise InvalidCredentials()
        if len(code) > 16 or not hmac.compare_digest(record.code_hash, self._hash(number, code.strip())):
            await PhoneCode.filter(id=record.id).update(attempts=F("attempts") + 1)
            raise InvalidCredentials()
        spent = await PhoneCode.filter(id=record.id, used_at=None, attempts__lt=MAX_ATTEMPTS).update(used_at=now())
        if not spent:
            raise InvalidCredentials()
        return number

    async def _check_rate(self, recent: QuerySet[PhoneCode], limit: int) -> None:
        if await recent.count() >= limit:
            oldest = await recent.order_by("created_at").first()
            retry = (oldest.created_at + WINDOW - now()).total_seconds() if oldest else WINDOW.total_seconds()
            raise RequestsExceeded(retry_after=int(retry) + 1)

    def _hash(self, number: str, code: str) -> str:
        return hmac.new(self.key, f"{number}:{code}".encode(), hashlib.sha256).hexdigest()
