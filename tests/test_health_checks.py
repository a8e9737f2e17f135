"""/health/live and /health/ready, as orchestrators and load balancers probe them."""

from __future__ import annotations

import socket

import httpx
import pytest

from app.main import create_app
from tests.conftest import BASE_URL, Api, make_settings, redis_up


def free_port() -> int:
    """A port nothing listens on: connections to it are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_live_and_ready_answer_ok(api: Api) -> None:
    live = await api.http.get("/health/live")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    ready = await api.http.get("/health/ready")
    assert (ready.status_code, ready.json()) == (200, {"status": "ok", "checks": {"database": "ok"}})


async def test_ready_names_an_unreachable_redis(app_with) -> None:  # type: ignore[no-untyped-def]
    environ = {"RATE_LIMITER_STORE": "redis", "RATE_LIMITER_REDIS": f"redis://127.0.0.1:{free_port()}/13"}
    async with app_with(**environ) as api:
        ready = await api.http.get("/health/ready")
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "error" and body["failing"] == ["redis"]
        assert body["checks"]["database"] == "ok" and body["checks"]["redis"].startswith("error")
        assert "127.0.0.1" not in ready.text  # no URL in the answer
        assert (await api.http.get("/health/live")).status_code == 200


@pytest.mark.skipif(not redis_up(), reason="needs Redis on 127.0.0.1:6379")
async def test_ready_with_redis_answering(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(RATE_LIMITER_STORE="redis", RATE_LIMITER_REDIS="redis://127.0.0.1:6379/13") as api:
        ready = await api.http.get("/health/ready")
        assert (ready.status_code, ready.json()["checks"]) == (200, {"database": "ok", "redis": "ok"})
        assert (await api.http.get("/health")).json() == {"status": "ok"}


async def test_ready_names_an_unreachable_database() -> None:
    app = create_app(make_settings(database_url=f"postgres://postgres@127.0.0.1:{free_port()}/test"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            ready = await client.get("/health/ready")
            assert ready.status_code == 503
            assert ready.json()["failing"] == ["database"]
            assert (await client.get("/health")).status_code == 503
            assert (await client.get("/health/live")).status_code == 200


async def test_probes_are_never_rate_limited(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(rate_limiter_enabled=True, RATE_LIMITER_POINTS="1", RATE_LIMITER_DURATION="60") as api:
        for path in ("/health", "/health/live", "/health/ready"):
            assert {(await api.http.get(path)).status_code for _ in range(5)} == {200}, path
        assert [(await api.http.post("/auth/login", json={})).status_code for _ in range(2)] == [400, 429]
