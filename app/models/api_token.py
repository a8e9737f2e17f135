from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from tortoise import fields
from tortoise.models import Model

from app.models.user import Role

if TYPE_CHECKING:
    from app.models.user import User


class ApiToken(Model):
    # A long-lived sk_ credential acting as its user with at most its role; only the
    # sha256 of the token is stored. (A comment, not a docstring: Tortoise copies
    # docstrings into table comments and mis-quotes backticks there.)

    id = fields.UUIDField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="api_tokens", on_delete=fields.CASCADE
    )
    user_id: UUID
    name = fields.CharField(max_length=100)
    role = fields.CharEnumField(Role, max_length=16)
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_tokens"
