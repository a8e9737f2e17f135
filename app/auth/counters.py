"""The counters of rate limits and guessing budgets in Redis, with a fallback: while Redis
cannot be reached they live in this process's memory, so sign-ins keep working (each process
then limits on its own, as with RATE_LIMITER_STORE=memory).

The switch is logged once per outage; Redis is tried again every `retry_after` seconds and
used again as soon as it answers. Counts made in memory meanwhile stay there: a window that
straddles the outage may allow up to twice its points, never fewer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from limits.aio.storage import MemoryStorage, RedisStorage, Storage

if TYPE_CHECKING:
    import coredis

log = logging.getLogger("app.counters")
T = TypeVar("T")

RETRY_AFTER = 5.0
# A Redis that stops answering must not hold sign-ins for long: past this, memory it is.
REDIS_TIMEOUT = 1.0


def redis_storage(url: str, key_prefix: str, pool: coredis.ConnectionPool | None) -> RedisStorage:
    """The limits storage on `pool` (whose connections time out after REDIS_TIMEOUT)."""
    return RedisStorage(
        url if url.startswith("async+") else f"async+{url}",
        key_prefix=key_prefix,
        connection_pool=pool,  # type: ignore[arg-type]  # limits annotates its options as scalars
    )


class FallbackStorage(Storage):
    """A `limits` storage: `redis` while it answers, else `memory`."""

    STORAGE_SCHEME = None  # built here, never from a URL

    def __init__(self, redis: RedisStorage, retry_after: float = RETRY_AFTER) -> None:
        super().__init__()
        self.redis = redis
        self.memory = MemoryStorage()
        self.retry_after = retry_after
        self._down_until: float | None = None
        base = redis.base_exceptions
        self._redis_errors: tuple[type[BaseException], ...] = (
            *(base if isinstance(base, tuple) else (base,)),
            OSError,
            TimeoutError,
        )

    @property
    def base_exceptions(self) -> tuple[type[Exception], ...]:
        return ()  # nothing from Redis escapes

    @property
    def degraded(self) -> bool:
        """True while the counters are in memory."""
        return self._down_until is not None

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return await self._call(lambda s: s.incr(key, expiry, amount=amount))

    async def get(self, key: str) -> int:
        return await self._call(lambda s: s.get(key))

    async def get_expiry(self, key: str) -> float:
        return await self._call(lambda s: s.get_expiry(key))

    async def clear(self, key: str) -> None:
        await self._call(lambda s: s.clear(key))

    async def reset(self) -> int | None:
        return await self._call(lambda s: s.reset())

    async def check(self) -> bool:
        """Whether Redis itself answers (for the health routes); memory always would."""
        return await self.redis.check()

    async def _call(self, operation: Callable[[Storage], Awaitable[T]]) -> T:
        if self._down_until is not None and time.monotonic() < self._down_until:
            return await operation(self.memory)
        try:
            result = await operation(self.redis)
        except self._redis_errors as exc:
            if self._down_until is None:
                log.warning(
                    "Redis (RATE_LIMITER_REDIS) is unreachable (%s): rate limits and sign-in budgets are "
                    "counted in this process's memory until it answers again",
                    type(exc).__name__,
                )
            self._down_until = time.monotonic() + self.retry_after
            return await operation(self.memory)
        if self._down_until is not None:
            self._down_until = None
            log.warning("Redis (RATE_LIMITER_REDIS) answers again: rate limits and budgets are shared again")
        return result
