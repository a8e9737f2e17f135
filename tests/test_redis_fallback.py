"""RATE_LIMITER_STORE=redis and Redis goes away: sign-ins keep working, limits count in
memory (logged once), /health says degraded; when Redis is back, the counts go there again."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from app.auth.throttle import PrivateKeys
from tests.conftest import LOGIN, TEST_SECRET, Api, codes, redis_command, redis_up
from tests.test_health_checks import free_port

REDIS_DB = 13
needs_redis = pytest.mark.skipif(not redis_up(), reason="needs Redis on 127.0.0.1:6379")


def fresh_email() -> str:
    # Each test's own account: its counter keys cannot meet another run's in the shared db.
    return f"ana-{uuid.uuid4().hex[:12]}@example.com"


async def counted(email: str) -> int:
    """How many counter keys our Redis database holds for `email`'s sign-in budget (stored
    as its keyed hash, app/auth/throttle.py)."""
    pattern = f"*{PrivateKeys(TEST_SECRET)(f'email:{email}')}*"
    reply = await redis_command("EVAL", "return #redis.call('KEYS', ARGV[1])", "0", pattern, db=REDIS_DB)
    return int(reply.strip()[1:])


class Proxy:
    """A TCP relay in front of Redis that the test can take down and bring back."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.writers):
            writer.close()
        await self.server.wait_closed()
        self.server = None

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        redis_reader, redis_writer = await asyncio.open_connection("127.0.0.1", 6379)
        self.writers |= {client_writer, redis_writer}

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                writer.close()

        await asyncio.gather(pipe(client_reader, redis_writer), pipe(redis_reader, client_writer))


@asynccontextmanager
async def redis_app(app_with, port: int, **settings: object) -> AsyncIterator[Api]:  # type: ignore[no-untyped-def]
    environ = {"RATE_LIMITER_STORE": "redis", "RATE_LIMITER_REDIS": f"redis://127.0.0.1:{port}/{REDIS_DB}"}
    async with app_with(LOGIN_ATTEMPTS_PER_ACCOUNT="3", **environ, **settings) as api:
        yield api


async def wrong_logins(api: Api, email: str, count: int) -> list[list[str]]:
    return [codes(await api.gql(LOGIN, {"email": email, "password": f"guess {i}"})) for i in range(count)]


def counter_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "app.counters" and r.levelno == logging.WARNING]


async def test_without_redis_sign_ins_work_and_limits_count_in_memory(
    app_with,  # type: ignore[no-untyped-def]
    caplog: pytest.LogCaptureFixture,
) -> None:
    email = fresh_email()
    caplog.set_level(logging.WARNING, logger="app.counters")
    async with redis_app(app_with, free_port(), rate_limiter_enabled=True, RATE_LIMITER_POINTS="100") as api:
        await api.signup(email)
        assert (await api.login(email))["access_token"]
        rest = await api.http.post("/auth/login", json={"email": email, "password": "correct horse battery"})
        assert rest.status_code == 200
        # The budget still counts (3 wrong guesses, then refused), in this process's memory.
        assert await wrong_logins(api, email, 4) == [["INVALID_CREDENTIALS"]] * 3 + [["REQUESTS_EXCEEDED"]]
        health = await api.http.get("/health")
        assert health.status_code == 200
        assert health.status_code == 200 and health.json()["status"] == "ok" and health.json()["degraded"] == ["redis"]
    warnings = counter_warnings(caplog)
    assert len(warnings) == 1 and "unreachable" in warnings[0], warnings


@needs_redis
async def test_with_redis_the_counters_live_there(app_with) -> None:  # type: ignore[no-untyped-def]
    email = fresh_email()
    async with redis_app(app_with, 6379) as api:
        await api.signup(email)
        assert await wrong_logins(api, email, 1) == [["INVALID_CREDENTIALS"]]
        assert await counted(email)
        assert (await api.http.get("/health")).json() == {"status": "ok"}


@needs_redis
async def test_counters_go_back_to_redis_when_it_returns(
    app_with,  # type: ignore[no-untyped-def]
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="app.counters")
    proxy = Proxy(free_port())
    await proxy.start()
    first, during, after = fresh_email(), fresh_email(), fresh_email()
    try:
        async with redis_app(app_with, proxy.port) as api:
            api.services.counters.retry_after = 0.2  # instead of every 5 s
            await api.signup(first)
            assert await wrong_logins(api, first, 1) == [["INVALID_CREDENTIALS"]]
            assert await counted(first)

            await proxy.stop()
            assert await wrong_logins(api, during, 1) == [["INVALID_CREDENTIALS"]]
            assert (await api.login(first))["access_token"]
            assert (await api.http.get("/health")).json()["degraded"] == ["redis"]
            assert not await counted(during)

            await proxy.start()
            await asyncio.sleep(0.3)
            assert await wrong_logins(api, after, 1) == [["INVALID_CREDENTIALS"]]
            assert await counted(after)
            assert (await api.http.get("/health")).json() == {"status": "ok"}
    finally:
        if proxy.server is not None:
            await proxy.stop()
    warnings = counter_warnings(caplog)
    assert len(warnings) == 2, warnings
    assert "unreachable" in warnings[0] and "again" in warnings[1]
