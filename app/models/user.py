from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from app.errors import UserSuspended


class Role(StrEnum):
    admin = "admin"
    user = "user"
    guest = "guest"

    @property
    def rank(self) -> int:
        return ROLE_RANK[self]


ROLE_RANK = {Role.guest: 0, Role.user: 1, Role.admin: 2}


class Status(StrEnum):
    active = "active"
    unverified = "unverified"
    suspended = "suspended"
    invited = "invited"


class User(Model):
    id = fields.UUIDField(primary_key=True)
    # Stored normalised (see app.auth.identifiers.normalize_email) so the unique index is
    # case-insensitive on every database.
    email = fields.CharField(max_length=254, unique=True, null=True)
    phone = fields.CharField(max_length=16, unique=True, null=True)
    password_hash = fields.CharField(max_length=255, null=True)
    name = fields.CharField(max_length=200, null=True)
    first_name = fields.CharField(max_length=100, null=True)
    last_name = fields.CharField(max_length=100, null=True)
    role = fields.CharEnumField(Role, max_length=16, default=Role.user)
    status = fields.CharEnumField(Status, max_length=16, default=Status.active)
    email_verified = fields.BooleanField(default=False)
    tfa_secret = fields.CharField(max_length=255, null=True)  # encrypted, never plain
    # The TOTP time step last accepted: a code is never accepted twice (RFC 6238 §5.2).
    tfa_last_step = fields.BigIntField(null=True)
    # The secret users_me_tfa_generate handed out, sealed (its seal carries the time it was
    # made, app/services/mfa.py PENDING_TTL): users_me_tfa_enable accepts only this one, once.
    tfa_pending_secret = fields.CharField(max_length=255, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_login_at = fields.DatetimeField(null=True)

    class Meta:
        table = "users"

    @classmethod
    async def by_email(cls, email: str) -> User | None:
        return await cls.get_or_none(email=email)

    @classmethod
    async def by_phone(cls, number: str) -> User | None:
        """`number` in E.164 (app.auth.identifiers.normalize_phone)."""
        return await cls.get_or_none(phone=number)

    @property
    def personal_details(self) -> tuple[str | None, ...]:
        """What a password must not be built from, besides the email."""
        return (self.name, self.first_name, self.last_name, self.phone)

    def check_can_sign_in(self) -> None:
        """Only an active account signs in (or keeps a session): USER_SUSPENDED otherwise."""
        if self.status != Status.active:
            raise UserSuspended()

    @property
    def tfa_enabled(self) -> bool:
        return self.tfa_secret is not None
