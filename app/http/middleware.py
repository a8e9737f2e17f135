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
        if declared is not None:
            if not declared.isdigit() or int(declared) > self.max_bytes:
                await self._reject(scope, receive, send)
                return
            # The server holds the body to its declared length: nothing more can arrive.
            await self.app(scope, receive, send)
            return
        # No length (chunked): read the body here, up to the cap, and replay it. Raising
        # from inside `receive` instead would reach the handlers first, and the exception
        # handlers (app/http/failures.py) would answer it as a bug, 500.
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                await self._reject(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(InvalidPayload("Request body is too large."))
        response.status_code = 413
        await response(scope, receive, send)
