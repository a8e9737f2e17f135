"""Browser fixtures: the app served by uvicorn on a loopback port, and Debian's chromium
driven by Playwright with every request off this machine refused.

Never `playwright install`: the browser is the system's (`make browsers` installs it).

- `live_server`: the app with SMTP to the suite's aiosmtpd server; `serve(**settings)` for
  other settings. Both give a `LiveServer` with `.url`, `.api` (the suite's Api helper,
  over real HTTP) and `.app`.
- `page`: a fresh browser context and page; `.offline` records refused requests.
- `screenshot(page, name)`: a PNG per flow, to BROWSER_SCREENSHOTS (`make screenshots`
  writes docs/screenshots/, which the README shows) or else the test's tmp_path.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from app.main import create_app
from tests.conftest import Api, _clean_tables, _free_port, make_settings

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# The flags this closed network needs: without the background-networking ones Chromium
# keeps dialling Google's hosts and gets refused.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STEP_TIMEOUT_MS = 15_000
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
ROOT = Path(__file__).resolve().parents[2]


class _Server(uvicorn.Server):
    def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        # pytest keeps Ctrl-C; uvicorn would swallow it and stop only itself.
        return contextlib.nullcontext()


@dataclass
class LiveServer:
    url: str
    app: Starlette
    api: Api


@asynccontextmanager
async def _serving(**overrides: Any) -> AsyncIterator[LiveServer]:
    port = _free_port()
    # localhost, not 127.0.0.1: the origin pages and cookies are issued for (and the only
    # host name WebAuthn accepts without TLS).
    url = f"http://localhost:{port}"
    app = create_app(make_settings(public_url=url, **overrides))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", ws="none", log_level="warning")
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(15):
            while not server.started:
                if task.done():
                    task.result()  # start-up failed: raise its error
                    raise RuntimeError("uvicorn stopped before it started")
                await asyncio.sleep(0.02)
        await _clean_tables()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=15) as client:
            yield LiveServer(url, app, Api(client, app))
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


@pytest.fixture
def serve(smtp_server: Any, tmp_path: Path) -> Callable[..., Any]:
    """`async with serve(EMAIL_VERIFICATION=True) as server:` - served with other settings."""

    def factory(**overrides: Any) -> Any:
        values: dict[str, Any] = dict(
            email_transport="smtp",
            smtp_host="127.0.0.1",
            smtp_port=smtp_server.port,
            sms_log_file=str(tmp_path / "sms.jsonl"),
        )
        values.update(overrides)
        return _serving(**values)

    return factory


@pytest.fixture
async def live_server(serve: Callable[..., Any]) -> AsyncIterator[LiveServer]:
    async with serve() as server:
        yield server


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    if not os.path.exists(CHROMIUM):
        # Only here: CI installs it (`make browsers`, called from .ci/run).
        pytest.skip(f"no chromium at {CHROMIUM}: run `make browsers` (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        yield browser
        await browser.close()


@dataclass
class Offline:
    """What the page tried to fetch off this machine (refused), and what it logged."""

    refused: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    """A new context (no cookies, no storage) and page; requests off loopback are aborted."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(STEP_TIMEOUT_MS)
    context.set_default_navigation_timeout(STEP_TIMEOUT_MS)
    offline = Offline()

    async def only_loopback(route: Any) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if host in LOOPBACK:
            await route.continue_()
        else:
            offline.refused.append(route.request.url)
            await route.abort("internetdisconnected")

    await context.route("**/*", only_loopback)
    page = await context.new_page()
    page.on("console", lambda message: message.type == "error" and offline.console_errors.append(message.text))
    page.on("pageerror", lambda error: offline.console_errors.append(str(error)))
    page.offline = offline
    try:
        yield page
    finally:
        await context.close()


@pytest.fixture
def screenshot(tmp_path: Path) -> Callable[..., Any]:
    """`await screenshot(page, "graphiql-signed-in")`: one PNG of the viewport."""
    target = Path(os.environ["BROWSER_SCREENSHOTS"]) if os.environ.get("BROWSER_SCREENSHOTS") else tmp_path
    if not target.is_absolute():
        target = ROOT / target

    async def take(page: Any, name: str) -> Path:
        target.mkdir(parents=True, exist_ok=True)
        path = target / f"{name}.png"
        await page.screenshot(path=str(path))
        return path

    return take
