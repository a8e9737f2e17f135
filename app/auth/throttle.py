"""Counting attempts with `limits`: per client IP (the HTTP middleware), the guessing
budgets and the mail budgets (app/services/budgets.py) and texted codes, in memory or in
Redis (RATE_LIMITER_STORE)."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter

from app import metrics
from app.auth.counters import REDIS_TIMEOUT, FallbackStorage, redis_storage
from app.auth.secrets import derive_key
from app.config import Settings
from app.errors import InvalidCredentials, InvalidOtp, RequestsExceeded

if TYPE_CHECKING:
    import coredis

# 128 bits of the HMAC: collisions between accounts stay out of reach.
_KEY_HEX_LENGTH = 32


def redis_pool(settings: Settings) -> coredis.ConnectionPool | None:
    """The Redis connections of the counters (RATE_LIMITER_STORE=redis), owned by us: the
    limits storage has no close of its own, but takes a pool (its documented
    `connection_pool` option), and a pool we own we can disconnect at shutdown."""
    if settings.rate_limiter_store != "redis":
        return None
    # Imported with Redis only: coredis and what it loads hold 11 MB.
    import coredis

    return coredis.ConnectionPool.from_url(
        (settings.rate_limiter_redis or "").removeprefix("async+"),
        connect_timeout=REDIS_TIMEOUT,
        stream_timeout=REDIS_TIMEOUT,
    )


def storage_for(settings: Settings, pool: coredis.ConnectionPool | None, key_prefix: str = "auth") -> Storage:
    if settings.rate_limiter_store == "redis":
        return FallbackStorage(redis_storage(settings.rate_limiter_redis or "", key_prefix, pool))
    return MemoryStorage()


class PrivateKeys:
    """What a counter's key becomes when it names a person (an email, a phone number, a user
    id, a device): a keyed hash, so the counters storage (Redis, which operators list and
    back up) holds no address in clear and cannot be searched for one without SECRET."""

    def __init__(self, secret: str) -> None:
        self._key = derive_key(secret, "counter-keys")

    def __call__(self, identifier: str) -> str:
        digest = hmac.new(self._key, identifier.encode(), hashlib.sha256).hexdigest()
        return digest[:_KEY_HEX_LENGTH]


class Throttle:
    """`points` attempts per `seconds` per key (a fixed window). With `private`, every key
    is stored as its keyed hash (see PrivateKeys)."""

    def __init__(
        self, storage: Storage, points: int, seconds: int, namespace: str, private: PrivateKeys | None = None
    ) -> None:
        self.item = RateLimitItemPerSecond(points, seconds)
        self.limiter = FixedWindowRateLimiter(storage)
        self.namespace = namespace
        self.private = private

    async def exceeded(self, key: str) -> RequestsExceeded:
        stats = await self.limiter.get_window_stats(self.item, self.namespace, self._stored(key))
        metrics.refused(self.namespace)
        return RequestsExceeded(retry_after=int(stats.reset_time - time.time()) + 1)

    async def hit(self, key: str) -> bool:
        """Count one attempt; False when this one went over the limit."""
        return await self.limiter.hit(self.item, self.namespace, self._stored(key))

    async def take(self, key: str) -> None:
        """Draw one attempt before doing the work, or raise REQUESTS_EXCEEDED. The draw is a
        single increment (atomic in memory and in Redis), so concurrent requests cannot all
        pass a check made before any of them counted."""
        if not await self.hit(key):
            raise await self.exceeded(key)

    async def give_back(self, key: str) -> None:
        """Return one draw (the attempt turned out not to count)."""
        await self.limiter.hit(self.item, self.namespace, self._stored(key), cost=-1)

    def _stored(self, key: str) -> str:
        return self.private(key) if self.private is not None else key

    @asynccontextmanager
    async def attempt(self, key: str) -> AsyncIterator[None]:
        """One guess: drawn before the check (`take`), kept when the answer was wrong, given
        back otherwise. Only wrong answers use the budget up, so the owner signing in does not
        spend it; a right answer clears nothing, so it reopens no guesses for anyone else."""
        await self.take(key)
        wrong = False
        try:
            yield
        except (InvalidCredentials, InvalidOtp):
            wrong = True
            raise
        finally:
            if not wrong:
                await self.give_back(key)
