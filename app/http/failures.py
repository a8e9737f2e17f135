"""Errors become answers here, once per transport: Starlette's exception handlers (app/main.py
installs `handlers(settings)`) map every failure of a route with `app.errors.from_exception`, then
answer it the way its route family speaks:

- REST twins, and the GraphQL endpoints before a document runs: the contract's JSON error
  with its status (and Retry-After for REQUESTS_EXCEEDED);
- pages and the OAuth routes (an `Answered` route): an HTML page, or a redirect back to
  the application with `?reason=<CODE>`.

Inside an operation, GraphQL errors are the schema's business (app/schema/extensions.py).
Handlers raise; none of them catches to answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.config import Settings
from app.errors import AppError, from_exception, second_failures, unavailable_errors
from app.http.responses import error_response

Failure = Callable[[Request, AppError], Response]


class Answered(Route):
    """A route whose failures are answered by `failure` (a page, a redirect), not JSON."""

    def __init__(self, path: str, endpoint: Callable[..., Any], *, methods: list[str], failure: Failure) -> None:
        super().__init__(path, endpoint, methods=methods)
        self.failure = failure


async def answer(request: Request, exc: Exception) -> Response:
    """AppError as it is; a database outage SERVICE_UNAVAILABLE; anything else a bug,
    logged with its trace and answered INTERNAL_SERVER_ERROR."""
    error = from_exception(exc)
    route = request.scope.get("route")
    if isinstance(route, Answered):
        return route.failure(request, error)
    return error_response(error)


Handler = Callable[[Request, Exception], Awaitable[Response]]


def handlers(settings: Settings) -> dict[Any, Handler]:
    """The app's exception handlers. Starlette answers `Exception` in its outermost layer and
    then re-raises it, so the server logs the bug too; the others are answered where the
    route runs, the database driver's errors included."""
    if not settings.database_url.startswith("sqlite"):
        # Loaded now rather than with the first connection, so that its errors are among
        # those (app/errors.py); SQLite never loads it.
        import asyncpg  # noqa: F401

    return {AppError: answer, **dict.fromkeys(unavailable_errors() + second_failures(), answer), Exception: answer}
