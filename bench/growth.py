"""The growth run (PostgreSQL): the hot paths with 1,000 and with 1,000,000 users and sessions,
seeded by COPY. Not part of the test suite; `python -m bench --growth`."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.load import Load, Result, fetch

SIZES = (1_000, 1_000_000)
BATCH = 100_000
USER_COLUMNS = ["id", "email", "password_hash", "role", "status", "email_verified", "created_at"]
SESSION_COLUMNS = ["id", "user_id", "seed", "generation", "refresh_hash", "created_at", "expires_at"]


def _dsn(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


async def reset(url: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(_dsn(url))
    try:
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await connection.close()


def _users(start: int, stop: int, password_hash: str, now: datetime) -> Iterator[tuple[Any, ...]]:
    for n in range(start, stop):
        yield (uuid.UUID(int=n + 1), f"user{n}@bench.test", password_hash, "user", "active", True, now)


def _sessions(start: int, stop: int, now: datetime) -> Iterator[tuple[Any, ...]]:
    for n in range(start, stop):
        digest = hashlib.sha256(f"bench-session-{n}".encode()).hexdigest()
        yield (uuid.UUID(int=(1 << 64) + n), uuid.UUID(int=n + 1), digest[:43], 0, digest, now, now + timedelta(days=7))


async def seed_to(url: str, total: int) -> None:
    """Top the users and sessions tables up to `total` rows each (beside the admin's)."""
    import asyncpg

    connection = await asyncpg.connect(_dsn(url))
    try:
        have = await connection.fetchval("SELECT count(*) FROM users WHERE email LIKE 'user%@bench.test'")
        password_hash = await connection.fetchval("SELECT password_hash FROM users LIMIT 1")
        now = datetime.now(UTC)
        for start in range(have, total, BATCH):
            stop = min(total, start + BATCH)
            await connection.copy_records_to_table(
                "users", records=_users(start, stop, password_hash, now), columns=USER_COLUMNS
            )
            await connection.copy_records_to_table(
                "sessions", records=_sessions(start, stop, now), columns=SESSION_COLUMNS
            )
        await connection.execute("ANALYZE users; ANALYZE sessions")
    finally:
        await connection.close()


async def grow_and_measure(env: dict[str, str], seconds: float, server_class: Callable[..., Any]) -> list[Any]:
    from bench.__main__ import ADMIN, LOGIN, ME, REFRESH, Row, sign_in

    measured: dict[int, dict[str, Result]] = {}
    for size in SIZES:
        await seed_to(env["DATABASE_URL"], size)
        server = server_class("app.main:app", env)
        try:
            port = server.port
            tokens = await sign_in(port)
            me = Load(ME, token=tokens["access_token"], expect=ADMIN[0])
            login = Load(LOGIN, {"e": ADMIN[0], "p": ADMIN[1]}, expect="access_token")
            best: dict[str, Result] = {}
            # Each size's loads run twice and the better run counts: the two sizes are measured
            # minutes apart, and one noisy neighbour would otherwise decide the comparison.
            for _ in range(2):
                chains = tuple([(await sign_in(port))["refresh_token"] for _ in range(32)])
                runs = {
                    "users_me": await server.load(me, connections=32, seconds=seconds),
                    "auth_refresh": await server.load(
                        Load(REFRESH, expect="refresh_token", chain=chains), connections=32, seconds=seconds
                    ),  # fmt: skip
                    "auth_login c=1": await server.load(login, connections=1, seconds=seconds),
                }
                for name, result in runs.items():
                    if name not in best or result.rate > best[name].rate:
                        best[name] = result
            await fetch(port, Load(ME))
            measured[size] = best
        finally:
            server.stop()
    rows = []
    small, large = measured[SIZES[0]], measured[SIZES[1]]
    for name in small:
        slower = small[name].rate / large[name].rate - 1 if large[name].rate else float("inf")
        cpu = large[name].cpu_us / small[name].cpu_us - 1
        compared = f"{slower:+.0%} vs 1k ({small[name].rate:,.0f} req/s), server CPU {cpu:+.0%}"
        rows.append(Row(f"{name} with 1M users and sessions", large[name], compared, "≤ 10% slower", slower <= 0.1))
    return rows
