"""WebAuthn: the passkeys of an account and the challenges of its ceremonies."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING
from uuid import UUID

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from app.models.user import User

# The spec caps credential ids at 1023 bytes: 1364 characters of base64url.
MAX_CREDENTIAL_ID = 1364


class Passkey(Model):
    """A public-key credential: a way in, like a password, a phone or an identity."""

    id = fields.UUIDField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="passkeys", on_delete=fields.CASCADE
    )
    user_id: UUID
    credential_id = fields.CharField(max_length=MAX_CREDENTIAL_ID, unique=True)  # base64url, no padding
    public_key = fields.BinaryField()  # COSE_Key, as the authenticator sent it
    sign_count = fields.BigIntField(default=0)
    transports = fields.CharField(max_length=200, default="")  # comma list, a hint for browsers
    name = fields.CharField(max_length=100)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "passkeys"

    @property
    def transport_list(self) -> list[str]:
        return [t for t in self.transports.split(",") if t]


class Ceremony(StrEnum):
    register = "register"
    login = "login"


class WebAuthnChallenge(Model):
    """A challenge handed out with options: single use, short lived, stored as sha256. A
    login challenge without a user is for discoverable credentials (or an unknown email)."""

    id = fields.UUIDField(primary_key=True)
    challenge_hash = fields.CharField(max_length=64, unique=True)
    ceremony = fields.CharEnumField(Ceremony, max_length=16)
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="webauthn_challenges", on_delete=fields.CASCADE, null=True
    )
    user_id: UUID | None
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "webauthn_challenges"
