"""Unexpected exceptions never leak internals: the ErrorCodes extension on a real schema."""

from __future__ import annotations

import logging

import pytest
import strawberry

from app.errors import InvalidPayload
from app.schema.extensions import ErrorCodes


@strawberry.type
class Query:
    @strawberry.field
    def broken(self) -> str:
        raise RuntimeError("connection string postgres://admin:hunter2@db")

    @strawberry.field
    def refused(self) -> str:
        raise InvalidPayload("bad value")


schema = strawberry.Schema(Query, extensions=[ErrorCodes])


async def test_unexpected_errors_are_masked_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="app.graphql"):
        result = await schema.execute("{ broken }")
    assert result.errors is not None
    [error] = result.errors
    assert error.message == "An unexpected error occurred."
    assert error.extensions == {"code": "INTERNAL_SERVER_ERROR"}
    assert "hunter2" in caplog.text  # the trace is in the log, not in the answer


async def test_app_errors_keep_their_code_and_message() -> None:
    result = await schema.execute("{ refused }")
    assert result.errors is not None
    assert result.errors[0].message == "bad value"
    assert result.errors[0].extensions == {"code": "INVALID_PAYLOAD"}
