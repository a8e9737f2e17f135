from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from app.models.user import User


class RecoveryCode(Model):
    """A single-use MFA recovery code, stored as sha256."""

    id = fields.UUIDField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="recovery_codes", on_delete=fields.CASCADE
    )
    code_hash = fields.CharField(max_length=64, db_index=True)
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "recovery_codes"
