"""Small shared values: who is on the other end of a request (app/http/caller.py reads it
off the request), and the current time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class ClientInfo:
    ip: str | None = None
    user_agent: str | None = None
    device: str | None = None  # the device cookie as presented, unverified (app/auth/devices.py)


def now() -> datetime:
    return datetime.now(UTC)
