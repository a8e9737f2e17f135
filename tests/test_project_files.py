"""The committed contract files and migrations match the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tortoise.context import TortoiseContext
from tortoise.migrations.autodetector import MigrationAutodetector

from app.config import tortoise_config
from app.schema import build_schema
from app.schema.relay import build_relay_schema

ROOT = Path(__file__).resolve().parents[1]


def test_schema_graphql_is_current() -> None:
    assert (ROOT / "schema.graphql").read_text() == build_schema().as_str() + "\n", "run `make schema`"


def test_schema_relay_graphql_is_current() -> None:
    assert (ROOT / "schema.relay.graphql").read_text() == build_relay_schema().as_str() + "\n", "run `make schema`"


async def test_migrations_match_the_models() -> None:
    config = tortoise_config("sqlite://:memory:")
    apps = {label: dict(app) for label, app in config["apps"].items()}
    async with TortoiseContext() as ctx:
        await ctx.init(config=config)
        writers = await MigrationAutodetector(ctx.apps, apps).changes()
    assert writers == [], "models changed without a migration: run `make migrations`"


def test_management_commands_are_listed() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app", "--help"], capture_output=True, text=True, cwd=ROOT, check=True
    )
    for command in ("serve", "migrate", "create-admin", "export-schema"):
        assert command in result.stdout
