from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from app.models.user import User


class Session(Model):
    """One signed-in device. The refresh token is never stored, only its sha256."""

    id = fields.UUIDField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="sessions", on_delete=fields.CASCADE
    )
    # Refresh tokens are derived from (seed, generation) with the server secret, so a token
    # rotated a moment ago can be answered with the same successor without storing it.
    user_id: UUID
    seed = fields.CharField(max_length=64)
    generation = fields.IntField(default=0)
    refresh_hash = fields.CharField(max_length=64, unique=True)
    previous_hash = fields.CharField(max_length=64, null=True, db_index=True)
    rotated_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)
    ip = fields.CharField(max_length=45, null=True)
    user_agent = fields.CharField(max_length=512, null=True)

    class Meta:
        table = "sessions"

    def is_live(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now
