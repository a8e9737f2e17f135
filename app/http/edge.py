"""The outermost layers of the app: the request id, then the request metrics.

Starlette's own error handler (ServerErrorMiddleware) sits outside every middleware given to
it, so a 500 would leave without the request id and uncounted; `Application` puts these
layers outside it.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.types import ASGIApp

from app.config import Settings
from app.http.metrics import HttpMetrics
from app.http.request_id import RequestId


def outer_middleware(settings: Settings) -> list[Middleware]:
    """Outermost first."""
    layers = [Middleware(RequestId)]
    if settings.metrics_enabled:
        layers.append(Middleware(HttpMetrics))
    return layers


class Application(Starlette):
    """Starlette with `outer` middleware around its whole stack, error handler included."""

    def __init__(self, *args: Any, outer: list[Middleware] | None = None, **kwargs: Any) -> None:
        self.outer = outer or []
        super().__init__(*args, **kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        app = super().build_middleware_stack()
        for cls, args, kwargs in reversed(self.outer):
            app = cls(app, *args, **kwargs)
        return app
