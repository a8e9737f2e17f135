"""Management commands: python -m app {serve,migrate,create-admin,export-schema}."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from pathlib import Path

from app.config import ConfigError, Settings, ensure_sqlite_directory, tortoise_config


async def migrate(settings: Settings) -> None:
    from tortoise import Tortoise
    from tortoise.migrations.api import migrate as run_migrations

    ensure_sqlite_directory(settings.database_url)
    try:
        # No DATABASE_TIMEOUT: building an index on a large table may take minutes.
        await run_migrations(config=tortoise_config(settings.database_url))
    finally:
        await Tortoise.close_connections()
    print("migrations applied")


async def create_admin(settings: Settings, email: str | None, password: str | None, *, quiet_if_exists: bool) -> int:
    from tortoise import Tortoise

    from app.errors import InvalidPayload
    from app.services.container import Services

    if not email or not password:
        if quiet_if_exists:
            return 0
        email = email or input("Admin email: ")
        password = password or getpass.getpass("Admin password: ")
    services = Services.build(settings)
    ensure_sqlite_directory(settings.database_url)
    await Tortoise.init(config=settings.tortoise_orm)
    try:
        # The admin is held to the same password rules as everyone else.
        user = await services.users.ensure_admin(email, password)
    except InvalidPayload as exc:
        print(f"admin not created: {exc.message}", file=sys.stderr)
        return 2
    finally:
        await Tortoise.close_connections()
        await services.close()
    if user is None:
        print("an admin already exists; nothing changed")
    else:
        print(f"admin {user.email} created")
    return 0


async def prune(settings: Settings) -> None:
    from tortoise import Tortoise

    from app.services.housekeeping import prune as prune_rows

    # No DATABASE_TIMEOUT: a first prune of a large table may take a while.
    await Tortoise.init(config=tortoise_config(settings.database_url))
    try:
        removed = await prune_rows()
    finally:
        await Tortoise.close_connections()
    print(", ".join(f"{count} {what}" for what, count in removed.items()) + " removed")


def export_schema(directory: Path) -> None:
    from app.schema import build_schema
    from app.schema.relay import build_relay_schema

    (directory / "schema.graphql").write_text(build_schema().as_str() + "\n")
    (directory / "schema.relay.graphql").write_text(build_relay_schema().as_str() + "\n")
    print("wrote schema.graphql and schema.relay.graphql")


def serve(settings: Settings, reload: bool) -> int:
    import uvicorn

    from app import metrics
    from app.logs import log_config

    if reload and settings.workers > 1:
        print("configuration error: --reload serves one process; unset WORKERS or set it to 1", file=sys.stderr)
        return 2
    if settings.metrics_enabled and settings.workers > 1:
        metrics.share_between_workers()  # before they start: each counts into files /metrics sums
    if settings.workers > 1 and settings.database_url.startswith("sqlite") and settings.session_cache_ttl:
        # Processes on one SQLite file cannot tell each other of a revocation (there is no
        # NOTIFY): each worker looks every session up instead of remembering it.
        os.environ["SESSION_CACHE_TTL"] = "0"
        print("WORKERS > 1 on SQLite: the live-session cache is off (SESSION_CACHE_TTL=0)", file=sys.stderr)
    uvicorn.run(
        "app.main:app",
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_level=settings.log_level,
        # The access log prints request lines: emailed links carry ?token=, OAuth ?code=.
        log_config=log_config(settings),
        reload=reload,
        workers=settings.workers,
        # The app reads X-Forwarded-For itself, trusting only IP_TRUST_PROXY's hops
        # (app/http/forwarded.py); uvicorn's own rewrite must not run first.
        proxy_headers=False,
        # No `Server: uvicorn` on every answer: it tells an attacker what to look up.
        server_header=False,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description="GraphQL auth server management")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="serve the app on HOST:PORT")
    serve_cmd.add_argument("--reload", action="store_true", help="restart on code changes")
    commands.add_parser("migrate", help="apply the migrations in migrations/ to DATABASE_URL")
    admin = commands.add_parser("create-admin", help="create an admin unless one exists")
    admin.add_argument("--email", help="default: ADMIN_EMAIL, else asked")
    admin.add_argument("--password", help="default: ADMIN_PASSWORD, else asked")
    admin.add_argument("--from-env", action="store_true", help="only when ADMIN_EMAIL/ADMIN_PASSWORD are set")
    commands.add_parser("prune", help="delete ended sessions and spent or expired codes (run daily)")
    export = commands.add_parser("export-schema", help="rewrite schema.graphql and schema.relay.graphql")
    export.add_argument("--dir", type=Path, default=Path("."))
    args = parser.parse_args(argv)

    if args.command == "export-schema":
        export_schema(args.dir)
        return 0
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "migrate":
        asyncio.run(migrate(settings))
    elif args.command == "create-admin":
        email = args.email or settings.admin_email
        password = args.password or settings.admin_password
        return asyncio.run(create_admin(settings, email, password, quiet_if_exists=args.from_env))
    elif args.command == "prune":
        asyncio.run(prune(settings))
    elif args.command == "serve":
        return serve(settings, args.reload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
