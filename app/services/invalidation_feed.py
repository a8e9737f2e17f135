"""How an instance hears the others' revocations on PostgreSQL: LISTEN on a connection of
its own (not one of the pool's), started by the app's lifespan.

The cache is trusted only while that connection is known to be up: it starts untrusted,
is trusted (from empty) once LISTEN is in place, and is dropped and bypassed as soon as
the connection ends or misses a heartbeat, until a new one is listening. So a lost feed
costs speed (one lookup per request), never a revoked session that still works for
longer than HEARTBEAT + HEARTBEAT_TIMEOUT.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from tortoise import connections

from app.services import revocations
from app.services.live_sessions import LiveSessions

if TYPE_CHECKING:
    import asyncpg

log = logging.getLogger("app.sessions")

HEARTBEAT = 1.0  # seconds between checks that the listening connection still answers
HEARTBEAT_TIMEOUT = 1.0
RETRY = 1.0  # seconds between attempts to listen again
APPLICATION_NAME = "auth-revocation-feed"


class InvalidationFeed:
    def __init__(self, cache: LiveSessions) -> None:
        self.cache = cache
        self.task: asyncio.Task[None] | None = None
        self.stopped = False

    def start(self) -> None:
        self.cache.distrust()
        self.task = asyncio.get_running_loop().create_task(self._run(), name="invalidation-feed")

    async def stop(self) -> None:
        self.stopped = True
        # Cancelled until done: Python 3.11's wait_for can swallow a cancellation that
        # arrives as its inner await completes.
        while self.task is not None and not self.task.done():
            self.task.cancel()
            await asyncio.wait({self.task}, timeout=0.1)
        self.cache.distrust()

    async def _run(self) -> None:
        while not self.stopped:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure means: not listening
                log.warning("revocation feed down (%s): session cache bypassed", type(exc).__name__)
            self.cache.distrust()
            await asyncio.sleep(RETRY)

    async def _listen(self) -> None:
        connection = await _connect()
        # The moment the connection ends, not at the next heartbeat.
        connection.add_termination_listener(lambda _connection: self.cache.distrust())
        try:
            await connection.add_listener(revocations.CHANNEL, _heard)
            self.cache.trust()
            log.info("revocation feed listening: session cache in use")
            while not connection.is_closed() and not self.stopped:
                await asyncio.wait_for(connection.fetchval("SELECT 1"), HEARTBEAT_TIMEOUT)
                await asyncio.sleep(HEARTBEAT)
        finally:
            self.cache.distrust()
            if not connection.is_closed():
                connection.terminate()


def _heard(_connection: Any, _pid: int, _channel: str, payload: object) -> None:
    revocations.apply(str(payload))


async def _connect() -> asyncpg.Connection:
    """A connection with the pool's own parameters (Tortoise parsed DATABASE_URL)."""
    import asyncpg  # PostgreSQL only, where the pool has loaded it already

    client: Any = connections.get("default")
    extra = {k: v for k, v in dict(getattr(client, "extra", {}) or {}).items() if k in ("ssl", "timeout")}
    return await asyncpg.connect(
        host=client.host,
        port=client.port,
        user=client.user,
        password=client.password,
        database=client.database,
        # Named, so operators (and tests) can tell it in pg_stat_activity.
        server_settings={**(client.server_settings or {}), "application_name": APPLICATION_NAME},
        **extra,
    )
