from __future__ import annotations

from collections.abc import Mapping

from app.auth.identifiers import normalize_email
from app.auth.passwords import Passwords
from app.errors import InvalidCredentials
from app.models import User


class EmailProvider:
    name = "email"

    def __init__(self, passwords: Passwords) -> None:
        self.passwords = passwords

    async def authenticate(self, payload: Mapping[str, str]) -> User:
        password = payload.get("password") or ""
        self.passwords.check_size(password)
        # A malformed address is INVALID_PAYLOAD (the contract's rule); it reveals only the
        # format, never whether an account exists.
        email = normalize_email(payload.get("email") or "")
        user = await User.by_email(email)
        # Hash anyway for unknown users so both failures take as long.
        matches, new_hash = await self.passwords.verify(password, user.password_hash if user else None)
        if user is None or not matches:
            raise InvalidCredentials()
        if new_hash:
            user.password_hash = new_hash
            await user.save(update_fields=["password_hash"])
        return user
