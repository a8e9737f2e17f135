"""The ASGI application: `app.main:app`, or `create_app(settings)` for tests and embedding."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route
from tortoise.contrib.starlette import RegisterTortoise

from app import logs
from app.config import ConfigError, Settings, cors_origins, ensure_sqlite_directory
from app.http import failures, graphiql, health, oauth, pages, passkey_pages
from app.http import metrics as metrics_route
from app.http import routes as rest
from app.http.caller import Caller, unavailable
from app.http.edge import Application, outer_middleware
from app.http.forwarded import ClientAddress
from app.http.middleware import BodyLimit, RateLimit
from app.mail import Mailer
from app.schema import build_schema
from app.schema.context import GraphQLView
from app.schema.relay import build_relay_schema
from app.services.container import Services
from app.sms import SmsSender

if TYPE_CHECKING:
    import httpx


def create_app(
    settings: Settings | None = None,
    *,
    mailer: Mailer | None = None,
    sms: SmsSender | None = None,
    http_transport: httpx.AsyncBaseTransport | None = None,
    queries: Sequence[type] = (),
    mutations: Sequence[type] = (),
) -> Starlette:
    """The app; `queries` / `mutations` are an embedding application's own root fields."""
    settings = settings or Settings.from_env()
    services = Services.build(settings, mailer=mailer, sms=sms, http_transport=http_transport)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        ensure_sqlite_directory(settings.database_url)
        # Tortoise's own Starlette integration: its context is visible to every request
        # handler (a bare Tortoise.init() in the lifespan is not, in Tortoise 1.x).
        async with RegisterTortoise(app, config=settings.tortoise_orm):
            services.start()
            # What start-up built lives as long as the app: kept out of the cyclic collector's
            # walks, a full collection under load costs a few milliseconds instead of 100 ms
            # or more (it walked every schema, model and module object each time).
            gc.collect()
            gc.freeze()
            try:
                yield
            finally:
                gc.unfreeze()
                # While the database is still open: queued mail may clean up after itself.
                await services.close()

    middleware = []
    if settings.rate_limiter_enabled:
        # Before the body is read: a refused client costs no 2 MiB read and no wait.
        middleware.append(Middleware(RateLimit, settings=settings, counters=services.counters))
    middleware.append(Middleware(BodyLimit))
    # Last, so that refused requests cost no lookup: who is asking, once, for every route.
    middleware.append(Middleware(AuthenticationMiddleware, backend=Caller(services), on_error=unavailable))
    if settings.cors_origin:
        middleware.insert(
            0,
            Middleware(
                CORSMiddleware,
                # Full origins only: a wildcard with credentials would reflect any Origin,
                # `null` included. Checked again for settings built in code, not from_env.
                allow_origins=list(_cors_origins(settings)),
                allow_credentials=True,
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type", "X-API-Key"],
            ),
        )

    if settings.ip_trust_proxy:
        # First of all, so that everything after it sees the client, not the proxy.
        middleware.insert(0, Middleware(ClientAddress, trusted=settings.ip_trust_proxy))

    app = Application(
        routes=[
            # Route, not Mount: Mount would redirect POST /graphql to /graphql/.
            Route("/graphql", GraphQLView(build_schema(settings, queries=queries, mutations=mutations), services)),
            Route("/graphql/relay", GraphQLView(build_relay_schema(settings), services)),
            *rest.routes,
            *pages.routes,
            *passkey_pages.routes,
            *oauth.routes,
            # GraphiQL's files exist only while GraphiQL does.
            *([graphiql.assets()] if settings.graphiql else []),
            *health.routes,
            *(metrics_route.routes if settings.metrics_enabled else []),
        ],
        middleware=middleware,
        exception_handlers=failures.handlers(settings),
        lifespan=lifespan,
        outer=outer_middleware(settings),
    )
    app.state.services = services
    return app


def _cors_origins(settings: Settings) -> tuple[str, ...]:
    try:
        return cors_origins(settings.cors_origin)
    except ValueError as exc:
        raise ConfigError(f"CORS_ORIGIN: {exc}") from None


def __getattr__(name: str) -> Starlette:
    # `app.main:app` is built on first access, so importing this module (tests, tools)
    # reads no environment and opens nothing.
    if name == "app":
        settings = Settings.from_env()
        # Only the served app configures logging; an embedding application keeps its own.
        logs.configure(settings)
        application = create_app(settings)
        globals()["app"] = application
        return application
    raise AttributeError(name)
