"""`GET /metrics` and the request counts behind it (METRICS_ENABLED=true)."""

from __future__ import annotations

import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import metrics
from app.services import health

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
UNMATCHED = "unmatched"
_CACHED_PATHS = 1024
_POOL_EVERY = 1.0  # seconds between two readings of the database pool


class HttpMetrics:
    """Counts and times every answer by route template (never the raw path, whose values
    are the client's), outside Starlette's error handler so that 500s count too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._templates: dict[str, str] = {}
        self._pool_read = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        elapsed = metrics.timer()
        status = 500  # unless a response starts

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "other"
            route = self._template(scope)
            metrics.http_requests.labels(method, route, str(status)).inc()
            metrics.http_latency.labels(method, route).observe(elapsed())
            if time.monotonic() - self._pool_read > _POOL_EVERY:
                self._pool_read = time.monotonic()
                read_database_pool()

    def _template(self, scope: Scope) -> str:
        path = scope["path"]
        template = self._templates.get(path)
        if template is None:
            template = _match(scope)
            if len(self._templates) >= _CACHED_PATHS:
                self._templates.clear()  # unmatched paths are the client's: keep this bounded
            self._templates[path] = template
        return template


def _match(scope: Scope) -> str:
    app: Any = scope.get("app")
    for route in getattr(app, "routes", ()):
        match, _ = route.matches(scope)
        if match is not Match.NONE:
            return str(getattr(route, "path", UNMATCHED))
    return UNMATCHED


def read_database_pool() -> None:
    metrics.database_pool(health.database_pool())


async def endpoint(request: Request) -> Response:
    read_database_pool()
    # In multiprocess mode this reads every worker's file: off the event loop.
    body, content_type = await run_in_threadpool(metrics.exposition)
    return Response(body, media_type=content_type)


routes = [Route("/metrics", endpoint, methods=["GET"])]
