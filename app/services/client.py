"""Small shared values: who is on the other end of a request, and the current time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.requests import HTTPConnection


@dataclass(frozen=True)
class ClientInfo:
    ip: str | None = None
    user_agent: str | None = None

    @classmethod
    def of(cls, request: HTTPConnection) -> ClientInfo:
        return cls(
            ip=request.client.host if request.client else None,
            user_agent=request.headers.get("user-agent"),
        )


def now() -> datetime:
    return datetime.now(UTC)
