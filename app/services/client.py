"""Small shared values: who is on the other end of a request, and the current time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.requests import HTTPConnection

from app.auth.devices import COOKIE_NAME as DEVICE_COOKIE


@dataclass(frozen=True)
class ClientInfo:
    ip: str | None = None
    user_agent: str | None = None
    device: str | None = None  # the device cookie as presented, unverified (app/auth/devices.py)

    @classmethod
    def of(cls, request: HTTPConnection) -> ClientInfo:
        return cls(
            ip=request.client.host if request.client else None,
            user_agent=request.headers.get("user-agent"),
            device=request.cookies.get(DEVICE_COOKIE),
        )


def now() -> datetime:
    return datetime.now(UTC)
