"""PostgreSQL-only checks of the migrated schema (the whole suite also runs there)."""

from __future__ import annotations

import pytest
from tortoise import connections

from tests.conftest import ON_POSTGRES

pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="set TEST_DATABASE_URL=postgres://... to run")


async def test_hot_path_lookups_are_indexed(api) -> None:  # type: ignore[no-untyped-def]
    rows = await connections.get("default").execute_query_dict(
        "SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = 'public'"
    )
    definitions = [row["indexdef"] for row in rows]

    def indexed(table: str, column: str, unique: bool = False) -> bool:
        return any(
            f"ON public.{table} " in d and f"({column})" in d and (not unique or "UNIQUE" in d) for d in definitions
        )

    assert indexed("sessions", "id", unique=True)
    assert indexed("sessions", "refresh_hash", unique=True)
    assert indexed("users", "email", unique=True)
    assert indexed("one_time_tokens", "token_hash", unique=True)


async def test_migrations_are_recorded(api) -> None:  # type: ignore[no-untyped-def]
    rows = await connections.get("default").execute_query_dict("SELECT * FROM tortoise_migrations")
    assert any("0001_initial" in str(row.values()) for row in rows)
