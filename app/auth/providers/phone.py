from __future__ import annotations

from collections.abc import Mapping

from app.errors import InvalidCredentials
from app.models import User
from app.services.phone import PhoneService


class PhoneProvider:
    """Sign-in with a texted code (auth_phone_request sends it)."""

    name = "phone"

    def __init__(self, phones: PhoneService) -> None:
        self.phones = phones

    async def authenticate(self, payload: Mapping[str, str]) -> User:
        number = await self.phones.verify(payload.get("phone") or "", payload.get("code") or "")
        user = await User.get_or_none(phone=number)
        if user is None:
            raise InvalidCredentials()
        return user
