"""ASGI middleware: per-client rate limit and a request body cap."""

from __future__ import annotations

import asyncio

from limits.aio.storage import Storage
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth.throttle import Throttle
from app.config import Settings
from app.errors import InvalidPayload
from app.http.responses import MAX_JSON_BODY, error_response

# Probes and scrapes come often, from one address: never refuse them.
EXEMPT_PATHS = frozenset({"/health", "/health/live", "/health/ready", "/metrics"})
BODY_TIMEOUT = 10.0  # seconds for a whole request body (2 MiB at the cap) to arrive


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
    """Refuse bodies over MAX_JSON_BODY before anything parses them, and bodies that do not
    arrive within BODY_TIMEOUT: a client that sends headers and then trickles (or stalls)
    would otherwise hold a connection and a task for as long as it likes."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_JSON_BODY, timeout: float = BODY_TIMEOUT) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._reject(scope, receive, send, 413, "Request body is too large.")
            return
        # Read the whole body here, up to the cap and the deadline, and replay it. Raising
        # from inside `receive` instead would reach the handlers first, and the exception
        # handlers (app/http/failures.py) would answer it as a bug, 500.
        chunks: list[bytes] = []
        received = 0
        try:
            async with asyncio.timeout(self.timeout):
                while True:
                    message = await receive()
                    if message["type"] != "http.request":
                        return  # the client went away
                    chunk = message.get("body", b"")
                    received += len(chunk)
                    if received > self.max_bytes:
                        await self._reject(scope, receive, send, 413, "Request body is too large.")
                        return
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            await self._reject(scope, receive, send, 408, "The request body did not arrive in time.")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)

    @staticmethod
    async def _reject(scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
        response = error_response(InvalidPayload(message))
        response.status_code = status
        # The rest of the body is not read: the connection cannot be reused.
        response.headers["Connection"] = "close"
        await response(scope, receive, send)
