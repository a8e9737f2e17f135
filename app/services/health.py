"""Readiness: whether the database and, with RATE_LIMITER_STORE=redis, Redis answer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from limits.aio.storage import Storage
from tortoise import connections

from app.config import Settings

TIMEOUT = 2.0  # seconds for each check: a probe must answer before the prober gives up


async def _state(check: Awaitable[object]) -> str:
    """`ok`, or `error: <short reason>` (a class name, never a URL or a secret)."""
    try:
        async with asyncio.timeout(TIMEOUT):
            answered = await check
    except TimeoutError:
        return "error: timed out"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready; the class name says which
        return f"error: {type(exc).__name__}"
    return "error: unreachable" if answered is False else "ok"


async def _select_one() -> None:
    await connections.get("default").execute_query("SELECT 1")


async def checks(settings: Settings, counters: Storage) -> dict[str, str]:
    """Each dependency's state; Redis only when the counters live there."""
    database = _state(_select_one())
    if settings.rate_limiter_store != "redis":
        return {"database": await database}
    # `check` is the limits storage's ping (the counters fall back to memory; this is Redis).
    states = await asyncio.gather(database, _state(counters.check()))
    return dict(zip(("database", "redis"), states, strict=True))


def database_pool() -> Any:
    """The asyncpg pool behind the database connection (for its metrics), or None: SQLite,
    or no database yet (start-up) or any more (shutdown)."""
    try:
        client = connections.get("default")
    except Exception:  # noqa: BLE001
        return None
    return getattr(client, "_pool", None)
