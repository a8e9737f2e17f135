from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class AuditEvent(Model):
    """Who did what, when, from where. Plain ids, not foreign keys: the trail outlives the
    accounts it mentions. Never holds a secret."""

    id = fields.BigIntField(primary_key=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    action = fields.CharField(max_length=64, db_index=True)
    user_id = fields.UUIDField(null=True, db_index=True)  # whom it concerns
    actor_id = fields.UUIDField(null=True)  # who did it, when someone else (an admin)
    email = fields.CharField(max_length=254, null=True)  # the address tried, for failures
    ip = fields.CharField(max_length=45, null=True)
    user_agent = fields.CharField(max_length=512, null=True)
    detail: fields.JSONField[dict[str, object]] = fields.JSONField(null=True)

    class Meta:
        table = "audit_events"
