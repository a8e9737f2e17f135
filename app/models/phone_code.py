from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class PhoneCode(Model):
    """A texted 6-digit code: keyed hash only, 10 minutes, 5 tries, single use."""

    id = fields.UUIDField(primary_key=True)
    phone = fields.CharField(max_length=16, db_index=True)  # E.164
    code_hash = fields.CharField(max_length=64)
    attempts = fields.IntField(default=0)
    ip = fields.CharField(max_length=45, null=True, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "phone_codes"
