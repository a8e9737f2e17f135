from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING
from uuid import UUID

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from app.models.user import User


class Purpose(StrEnum):
    password_reset = "password_reset"
    email_verification = "email_verification"
    magic_link = "magic_link"
    invite = "invite"


class OneTimeToken(Model):
    """An emailed or texted secret: single use, expiring, stored only as sha256."""

    id = fields.UUIDField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="one_time_tokens", on_delete=fields.CASCADE
    )
    user_id: UUID
    purpose = fields.CharEnumField(Purpose, max_length=32)
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "one_time_tokens"
