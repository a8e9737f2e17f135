"""Readiness: whether the database answers."""

from __future__ import annotations

from tortoise import connections


async def database_ready() -> bool:
    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception:  # noqa: BLE001 - any failure means not ready
        return False
    return True
