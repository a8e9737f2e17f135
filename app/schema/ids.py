"""Relay global ids: `base64("<Type>:<uuid>")`, the one codec every resolver uses."""

from __future__ import annotations

import base64
import binascii
import uuid

import strawberry

from app.errors import InvalidPayload


def to_global_id(type_name: str, raw_id: object) -> strawberry.ID:
    return strawberry.ID(base64.b64encode(f"{type_name}:{raw_id}".encode()).decode())


def from_global_id(global_id: str) -> tuple[str, str]:
    """(type name, raw id); INVALID_PAYLOAD when it is not a global id at all."""
    try:
        type_name, _, raw_id = base64.b64decode(global_id, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidPayload("Invalid global id.") from None
    if not type_name or not raw_id:
        raise InvalidPayload("Invalid global id.")
    return type_name, raw_id


def as_uuid(raw_id: str) -> str | None:
    """The canonical form of a raw id, or None when it cannot be one of our rows."""
    try:
        return str(uuid.UUID(raw_id))
    except ValueError:
        return None


def raw_id(global_id: str, expected: str) -> str:
    """The database id inside a global id of the expected type, else INVALID_PAYLOAD."""
    type_name, value = from_global_id(global_id)
    if type_name != expected:
        raise InvalidPayload(f"Expected a {expected} id.")
    row_id = as_uuid(value)
    if row_id is None:
        raise InvalidPayload("Invalid global id.")
    return row_id
