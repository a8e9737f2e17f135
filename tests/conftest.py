"""Fixtures: a real database (SQLite, or PostgreSQL via TEST_DATABASE_URL) migrated once
with the project's migrations, the real app over HTTP (httpx), and a real SMTP server."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from email import message_from_bytes
from email.message import Message
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from tortoise import Tortoise

from app.config import Settings
from app.main import create_app
from app.models import User
from app.services import revocations

TEST_SECRET = "test-secret-" + "x" * 40
BASE_URL = "http://127.0.0.1:8000"
# Requests the generated tests (tests/test_fuzz.py) sent, by path; reported at the end.
GENERATED_REQUESTS: Counter[str] = Counter()
# What the fault tests (marked `faults`) did: requests, faults injected, writes checked, lost.
FAULT_FIGURES: Counter[str] = Counter()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if GENERATED_REQUESTS:
        total = sum(GENERATED_REQUESTS.values())
        by_path = ", ".join(f"{path} {count}" for path, count in sorted(GENERATED_REQUESTS.items()))
        terminalreporter.write_line(f"generated requests: {total} ({by_path})")
    if FAULT_FIGURES:
        figures = ", ".join(f"{what} {count}" for what, count in FAULT_FIGURES.items())
        terminalreporter.write_line(f"fault tests: {figures}")


@pytest.fixture
def fault_figures() -> Counter[str]:
    return FAULT_FIGURES


def _database_url() -> str:
    url = os.getenv("TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite://{tempfile.mkdtemp(prefix='auth-test-')}/test.db"


DATABASE_URL = _database_url()
ON_POSTGRES = DATABASE_URL.startswith(("postgres://", "postgresql://"))


def make_settings(**overrides: Any) -> Settings:
    """UPPERCASE keys are environment variables (read as in production); lowercase keys
    override Settings fields directly."""
    # A SECRET in the environment, so no test writes ./data/secret.
    environ = {"SECRET": TEST_SECRET, **{k: str(v) for k, v in overrides.items() if k.isupper()}}
    overrides = {k: v for k, v in overrides.items() if not k.isupper()}
    values: dict[str, Any] = dict(
        database_url=DATABASE_URL,
        # Cheap hashing parameters: the suite tests behaviour, bench/ measures cost.
        argon2_memory_cost=1024,
        argon2_time_cost=1,
        login_stall_time=0,
        rate_limiter_enabled=False,
        password_hash_concurrency=2,
    )
    values.update(overrides)
    return Settings.from_env(environ, **values)


async def _reset_postgres(url: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await connection.close()


@pytest.fixture(scope="session", autouse=True)
async def migrated_database() -> AsyncIterator[str]:
    """Apply migrations/ from empty, exactly as `make migrate` does."""
    from tortoise.migrations.api import migrate

    if ON_POSTGRES:
        await _reset_postgres(DATABASE_URL)
    await migrate(config=make_settings().tortoise_orm)
    await Tortoise.close_connections()
    yield DATABASE_URL


class Outbox:
    """Messages received by the test SMTP server."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.arrived = asyncio.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]

    def clear(self) -> None:
        self.messages.clear()


def text_of(message: Message) -> str:
    """The text/plain part of a mail, decoded (every mail also has an HTML part: `html_of`)."""
    return _part(message, "text/plain")


def html_of(message: Message) -> str:
    """The text/html part of a mail, decoded."""
    return _part(message, "text/html")


def _part(message: Message, content_type: str) -> str:
    parts = [part for part in message.walk() if part.get_content_type() == content_type]
    assert len(parts) == 1, [part.get_content_type() for part in message.walk()]
    payload = parts[0].get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(parts[0].get_content_charset() or "utf-8")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def smtp_server() -> Any:
    outbox = Outbox()
    controller = Controller(outbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def outbox(smtp_server: Any) -> Outbox:
    box: Outbox = smtp_server.handler
    box.clear()
    return box


class Api:
    """The app over HTTP, with helpers that send GraphQL variables (never interpolated)."""

    def __init__(self, client: httpx.AsyncClient, app: Any) -> None:
        self.http = client
        self.app = app

    @property
    def services(self) -> Any:
        return self.app.state.services

    def texts(self) -> list[dict[str, str]]:
        """What the `log` SMS transport wrote to SMS_LOG_FILE, one dict per text."""
        path = self.services.settings.sms_log_file
        if not path or not os.path.exists(path):
            return []
        with open(path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle]

    def last_code(self, phone: str) -> str:
        body = [t["body"] for t in self.texts() if t["to"] == phone][-1]
        match = re.search(r"\b(\d{6})\b", body)
        assert match, body
        return match.group(1)

    async def gql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        path: str = "/graphql",
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        response = await self.raw_gql(query, variables, token=token, path=path, headers=headers)
        return response.json()

    async def raw_gql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        path: str = "/graphql",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        return await self.http.post(path, json={"query": query, "variables": variables or {}}, headers=sent)

    async def signup(self, email: str = "ana@example.com", password: str = "correct horse battery") -> dict[str, Any]:
        result = await self.gql(CREATE_USER, {"email": email, "password": password})
        assert result.get("errors") is None, result
        return result["data"]["createUser"]

    async def login(self, email: str = "ana@example.com", password: str = "correct horse battery") -> dict[str, Any]:
        result = await self.gql(LOGIN, {"email": email, "password": password})
        assert result.get("errors") is None, result
        return result["data"]["auth_login"]


CREATE_USER = """
mutation($email: String!, $password: String!, $name: String) {
  createUser(authProvider: {email: {email: $email, password: $password}}, name: $name) { id email name role status }
}"""

LOGIN = """
mutation($email: String!, $password: String!, $mode: auth_mode, $otp: String) {
  auth_login(email: $email, password: $password, mode: $mode, otp: $otp) { access_token expires refresh_token }
}"""


async def _clean_tables() -> None:
    # Every model, so a new table cannot leak rows between tests; users last (the others
    # point at them).
    for model in sorted(Tortoise.apps["models"].values(), key=lambda m: m is User):
        await model.all().delete()


@asynccontextmanager
async def running_app(settings: Settings, **app_options: Any) -> AsyncIterator[Api]:
    app = create_app(settings, **app_options)
    async with app.router.lifespan_context(app):
        await _clean_tables()
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))

        async def delivered(response: httpx.Response) -> None:
            # Some mail leaves after the answer; let it arrive before the test reads it.
            await app.state.services.mail_queue.drain()

        hooks = {"response": [delivered]}
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, event_hooks=hooks) as client:
            yield Api(client, app)


@asynccontextmanager
async def another_client(api: Api, ip: str = "127.0.0.1") -> AsyncIterator[Api]:
    """A second browser on the same app: its own cookie jar, and connecting from `ip`."""
    transport = httpx.ASGITransport(app=api.app, client=(ip, 40001))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield Api(client, api.app)


@pytest.fixture
def app_with() -> Callable[..., Any]:
    """`async with app_with(EMAIL_VERIFICATION=True) as api:` - the app with other settings."""

    def factory(**overrides: Any) -> Any:
        return running_app(make_settings(**overrides))

    return factory


@pytest.fixture
async def api(smtp_server: Any, tmp_path: Any) -> AsyncIterator[Api]:
    settings = make_settings(
        email_transport="smtp",
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        sms_log_file=str(tmp_path / "sms.jsonl"),
    )
    async with running_app(settings) as api:
        yield api


def redis_up() -> bool:
    """Whether a Redis server answers on 127.0.0.1:6379 (the tests that need one skip otherwise)."""
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
        return True
    except OSError:
        return False


async def redis_command(*args: str, db: int = 0) -> bytes:
    """One command in RESP on a fresh connection to database `db`; the raw reply."""

    def encoded(*words: str) -> bytes:
        return f"*{len(words)}\r\n".encode() + b"".join(f"${len(w)}\r\n{w}\r\n".encode() for w in words)

    reader, writer = await asyncio.open_connection("127.0.0.1", 6379)
    try:
        writer.write(encoded("SELECT", str(db)) + encoded(*args))
        assert await reader.readline() == b"+OK\r\n"
        first = await reader.readline()
        if not first.startswith(b"$"):
            return first
        body = await reader.readexactly(int(first[1:]) + 2)
        return body[:-2]
    finally:
        writer.close()
        await writer.wait_closed()


async def flush_redis_db(db: int) -> None:
    """Empty one Redis database, so counts from earlier runs do not leak in."""
    assert await redis_command("FLUSHDB", db=db) == b"+OK\r\n"


def csrf(page: httpx.Response) -> dict[str, str]:
    """The CSRF field of a page form (its cookie is already in the client's jar)."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text
    return {"csrf_token": match.group(1)}


def codes(result: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors") or []]


async def update_user(email: str, **fields: Any) -> None:
    """Change a user row behind the app's back (as an operator's SQL would), then tell the
    live-session cache, as the app's own writes do (app/services/revocations.py)."""
    await User.filter(email=email).update(**fields)
    user = await User.get(email=email)
    await revocations.forget_user(user.id)
