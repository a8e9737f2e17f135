"""Sign-in with a texted code (auth_phone_request sends it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from app.errors import InvalidCredentials
from app.models import User


class CodeChecker(Protocol):
    async def verify(self, phone: str, code: str) -> str:
        """The E.164 number when `code` is its current code (then spent), else InvalidCredentials."""
        ...


class PhoneProvider:
    name = "phone"

    def __init__(self, codes: CodeChecker) -> None:
        # Passed in (app.services.phone_codes.PhoneCodes): providers import no service.
        self.codes = codes

    async def authenticate(self, payload: Mapping[str, str]) -> User:
        number = await self.codes.verify(payload.get("phone") or "", payload.get("code") or "")
        user = await User.by_phone(number)
        if user is None:
            raise InvalidCredentials()
        return user
