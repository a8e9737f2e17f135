"""`python -m app serve`, the real server process: what every answer carries."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import TEST_SECRET


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_answers_do_not_name_the_server_software(tmp_path: Path) -> None:
    # `Server: uvicorn` on every response tells a scanner what to look up.
    port = _free_port()
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "SECRET": TEST_SECRET,
        "DATABASE_URL": f"sqlite://{tmp_path}/serve.db",
    }
    env.pop("TEST_DATABASE_URL", None)
    root = Path(__file__).resolve().parents[1]
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        command = [sys.executable, "-m", "app", "serve"]
        server = subprocess.Popen(command, cwd=root, env=env, stdout=output, stderr=output)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        assert response.status_code in (200, 503)
        assert "server" not in response.headers, response.headers
        missing = httpx.get(f"http://127.0.0.1:{port}/no-such-page", timeout=2)
        assert "server" not in missing.headers
    finally:
        server.terminate()
        server.wait(timeout=10)
