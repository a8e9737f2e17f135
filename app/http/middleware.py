"""ASGI middleware: per-client rate limit and a request body cap."""

from __future__ import annotations

from limits.aio.storage import Storage
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth.throttle import Throttle
from app.config import Settings
from app.errors import InvalidPayload
from app.http.responses import MAX_JSON_BODY, error_response

EXEMPT_PATHS = frozenset({"/health"})


class RateLimit:
    """RATE_LIMITER_POINTS requests per RATE_LIMITER_DURATION seconds per client IP."""

    def __init__(self, app: ASGIApp, settings: Settings, counters: Storage) -> None:
        self.app = app
        self.throttle = Throttle(counters, settings.rate_limiter_points, settings.rate_limiter_duration, "ip")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        key = client[0] if client else "unknown"
        if not await self.throttle.hit(key):
            await error_response(await self.throttle.exceeded(key))(scope, receive, send)
            return
        await self.app(scope, receive, send)


class BodyLimit:
    """Refuse bodies over MAX_JSON_BODY before anything parses them."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_JSON_BODY) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._reject(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(InvalidPayload("Request body is too large."))
        response.status_code = 413
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass
