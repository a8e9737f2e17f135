"""Answers whose timing must not tell whether an account exists."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


@asynccontextmanager
async def stall(seconds: float) -> AsyncIterator[None]:
    """LOGIN_STALL_TIME: the block takes at least this long, success or failure."""
    started = time.monotonic()
    try:
        yield
    finally:
        remaining = seconds - (time.monotonic() - started)
        if remaining > 0:
            await asyncio.sleep(remaining)
