"""Application errors: one class per contract code.

    AppError (code, status)
    ├── InvalidCredentials   INVALID_CREDENTIALS   401
    ├── InvalidOtp           INVALID_OTP           401
    ├── InvalidToken         INVALID_TOKEN         401
    ├── TokenExpired         TOKEN_EXPIRED         401
    ├── Forbidden            FORBIDDEN             403
    ├── InvalidPayload       INVALID_PAYLOAD       400
    ├── RecordNotUnique      RECORD_NOT_UNIQUE     400
    ├── UserSuspended        USER_SUSPENDED        401
    ├── RequestsExceeded     REQUESTS_EXCEEDED     429  (extensions.retry_after)
    ├── InvalidProvider      INVALID_PROVIDER      400
    ├── QueryTooComplex      QUERY_TOO_COMPLEX     400
    ├── GraphQLValidation    GRAPHQL_VALIDATION    400  (a request that is not a GraphQL request)
    ├── ServiceUnavailable   SERVICE_UNAVAILABLE   503
    └── InternalServerError  INTERNAL_SERVER_ERROR 500

graphql-core copies `extensions` of the original exception into the GraphQL error, so
raising one of these in a resolver yields `extensions.code`; REST handlers use `status`.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, ClassVar

from tortoise.exceptions import DBConnectionError, OperationalError

log = logging.getLogger("app.errors")


class AppError(Exception):
    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"
    status: ClassVar[int] = 500
    default_message: ClassVar[str] = "An unexpected error occurred."

    def __init__(self, message: str | None = None, **extra: Any) -> None:
        self.message = message or self.default_message
        self.extensions: dict[str, Any] = {"code": self.code, **extra}
        super().__init__(self.message)

    def as_json(self) -> dict[str, Any]:
        return {"message": self.message, "extensions": self.extensions}


class InvalidCredentials(AppError):
    code = "INVALID_CREDENTIALS"
    status = 401
    default_message = "Invalid user credentials."


class InvalidOtp(AppError):
    code = "INVALID_OTP"
    status = 401
    default_message = "Invalid one-time password."


class InvalidToken(AppError):
    code = "INVALID_TOKEN"
    status = 401
    default_message = "Invalid token."


class TokenExpired(AppError):
    code = "TOKEN_EXPIRED"
    status = 401
    default_message = "Token expired."


class Forbidden(AppError):
    code = "FORBIDDEN"
    status = 403
    default_message = "You don't have permission to access this."


class InvalidPayload(AppError):
    code = "INVALID_PAYLOAD"
    status = 400
    default_message = "Invalid payload."


class RecordNotUnique(AppError):
    code = "RECORD_NOT_UNIQUE"
    status = 400
    default_message = "Value has to be unique."


class UserSuspended(AppError):
    code = "USER_SUSPENDED"
    status = 401
    default_message = "User is not active."


class RequestsExceeded(AppError):
    code = "REQUESTS_EXCEEDED"
    status = 429
    default_message = "Too many requests, retry later."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message, retry_after=max(1, int(retry_after)))


class InvalidProvider(AppError):
    code = "INVALID_PROVIDER"
    status = 400
    default_message = "Invalid provider."


class QueryTooComplex(AppError):
    code = "QUERY_TOO_COMPLEX"
    status = 400
    default_message = "Query is too complex."


class ServiceUnavailable(AppError):
    code = "SERVICE_UNAVAILABLE"
    status = 503
    default_message = "Service is unavailable, retry later."


class InternalServerError(AppError):
    pass


GRAPHQL_VALIDATION = "GRAPHQL_VALIDATION"


class GraphQLValidation(AppError):
    """Raised at the HTTP edge only; inside a document graphql-core reports these itself."""

    code = GRAPHQL_VALIDATION
    status = 400
    default_message = "Not a GraphQL request."


# What an unreachable (or failing) database raises. Tortoise translates some driver errors
# and lets the others through: asyncpg's for a connection lost in the middle of a query
# (class 08, `ConnectionDoesNotExistError`), a server shutting down or refusing
# connections for now (class 57) and one out of connections or disk (class 53); and
# TimeoutError when a connection or statement outlasts DATABASE_TIMEOUT (app/config.py).
_UNAVAILABLE: tuple[type[Exception], ...] = (DBConnectionError, OperationalError, ConnectionError, TimeoutError)


def _asyncpg() -> Any:
    """asyncpg's exceptions module once asyncpg is loaded, else None. Only PostgreSQL loads
    it (a SQLite server does without its 3.5 MB), and none of its errors exists before."""
    return sys.modules.get("asyncpg.exceptions")


def unavailable_errors() -> tuple[type[Exception], ...]:
    """The errors of an unreachable database (asyncpg's once it is loaded)."""
    driver = _asyncpg()
    if driver is None:
        return _UNAVAILABLE
    return (
        *_UNAVAILABLE,
        driver.PostgresConnectionError,
        driver.OperatorInterventionError,
        driver.InsufficientResourcesError,
    )


def second_failures() -> tuple[type[Exception], ...]:
    """Raised by the driver for a connection already closed (a rollback after the connection
    dropped) but also for misuse: SERVICE_UNAVAILABLE when raised in an outage, else a bug."""
    driver = _asyncpg()
    return () if driver is None else (driver.InterfaceError,)


def from_exception(exc: BaseException) -> AppError:
    """Known errors pass through; an unreachable database is SERVICE_UNAVAILABLE; anything
    else is a bug, logged with its trace and answered without internals."""
    if isinstance(exc, AppError):
        return exc
    if _unavailable(exc):
        log.error("database unavailable: %s", exc or type(exc).__name__)
        return ServiceUnavailable()
    log.error("unexpected error", exc_info=exc)
    return InternalServerError()


def _unavailable(exc: BaseException) -> bool:
    """One of unavailable_errors(), or raised while one was being handled: a transaction whose
    connection dropped mid-statement fails again in its rollback, with asyncpg's
    `InterfaceError` ("the underlying connection is closed"), and that is what arrives."""
    cause: BaseException | None = exc
    unavailable = unavailable_errors()
    for _ in range(5):  # a context chain is short; bounded all the same
        if cause is None:
            return False
        if isinstance(cause, unavailable):
            return True
        cause = cause.__context__
    return False
