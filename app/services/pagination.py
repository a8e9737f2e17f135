"""Keyset pagination for Relay connections: newest first, by (created_at, id), so pages stay
stable while rows are added and cost one indexed range scan however deep."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

from app.errors import InvalidPayload

M = TypeVar("M", bound=Model)
DEFAULT_PAGE = 20
MAX_PAGE = 100


@dataclass(frozen=True)
class Page(Generic[M]):
    items: list[M]
    cursors: list[str]
    has_next: bool
    has_previous: bool


def encode_cursor(created_at: datetime, row_id: object) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{row_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created, _, row_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(created), row_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidPayload("Invalid cursor.") from None


async def keyset_page(query: QuerySet[M], first: int | None, after: str | None) -> Page[M]:
    size = DEFAULT_PAGE if first is None else first
    if not 0 <= size <= MAX_PAGE:
        raise InvalidPayload(f"first must be between 0 and {MAX_PAGE}.")
    if after:
        created, raw_id = decode_cursor(after)
        row_id: object = raw_id
        try:
            row_id = query.model._meta.pk.to_python_value(raw_id)
        except (ValueError, TypeError, AttributeError):
            raise InvalidPayload("Invalid cursor.") from None
        query = query.filter(Q(created_at__lt=created) | Q(created_at=created, id__lt=row_id))
    rows = list(await query.order_by("-created_at", "-id").limit(size + 1))
    items = rows[:size]
    cursors = [encode_cursor(getattr(r, "created_at"), r.pk) for r in items]  # noqa: B009
    return Page(items=items, cursors=cursors, has_next=len(rows) > size, has_previous=bool(after))
