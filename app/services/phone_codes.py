"""Sign-in codes sent by text: 6 digits, keyed-hashed, 10 minutes, 5 tries, one use,
rate limited per number and per client (SMS_CODE_REQUESTS_PER_HOUR) with the app's counters."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from limits.aio.storage import Storage
from tortoise.expressions import F

from app.auth.identifiers import normalize_phone
from app.auth.secrets import derive_key
from app.auth.throttle import PrivateKeys, Throttle
from app.config import Settings
from app.errors import InvalidCredentials, ServiceUnavailable
from app.models import PhoneCode
from app.services.client import ClientInfo, now
from app.sms import SmsSender

CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
HOUR = 3600
CLIENT_FACTOR = 4  # one client may ask for a few numbers' worth of codes per hour


class PhoneCodes:
    def __init__(self, settings: Settings, sms: SmsSender, counters: Storage) -> None:
        self.settings = settings
        self.sms = sms
        limit = settings.sms_code_requests_per_hour
        # The number is kept as a keyed hash in the counters, like every key naming a person.
        self.per_number = Throttle(counters, limit, HOUR, "sms-number", PrivateKeys(settings.secret))
        self.per_client = Throttle(counters, limit * CLIENT_FACTOR, HOUR, "sms-client")
        # A keyed hash: six digits are a million guesses, trivial offline against a plain
        # sha256 from a leaked table, not without the server secret.
        self.key = derive_key(settings.secret, "phone-code")

    async def request_code(self, phone: str, client: ClientInfo) -> None:
        number = normalize_phone(phone)
        # Drawn before anything is sent, each in one atomic increment: requests arriving at
        # once cannot all pass a count made before any of them was recorded.
        await self.per_number.take(number)
        try:
            if client.ip:
                await self.per_client.take(client.ip)
            await self._send_code(number, client)
        except Exception:
            # Nothing was texted: the request does not count.
            await self.per_number.give_back(number)
            if client.ip:
                await self.per_client.give_back(client.ip)
            raise

    async def _send_code(self, number: str, client: ClientInfo) -> None:
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
        # The try is counted before the code is compared, in one conditional update: guesses
        # sent at once cannot all be compared before the first of them is counted.
        counted = await PhoneCode.filter(id=record.id, used_at=None, attempts__lt=MAX_ATTEMPTS).update(
            attempts=F("attempts") + 1
        )
        if not counted:
            raise InvalidCredentials()
        if len(code) > 16 or not hmac.compare_digest(record.code_hash, self._hash(number, code.strip())):
            raise InvalidCredentials()
        if not await PhoneCode.filter(id=record.id, used_at=None).update(used_at=now()):
            raise InvalidCredentials()  # a concurrent right answer spent it first
        return number

    def _hash(self, number: str, code: str) -> str:
        return hmac.new(self.key, f"{number}:{code}".encode(), hashlib.sha256).hexdigest()
