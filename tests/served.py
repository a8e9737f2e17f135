"""`python -m app serve` in a subprocess, for behaviour that is about processes and logs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import TEST_SECRET

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Served:
    base_url: str
    log: Path
    process: subprocess.Popen[bytes]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(tmp_path: Path, **variables: str) -> dict[str, str]:
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "SECRET": TEST_SECRET,
        "DATABASE_URL": f"sqlite://{tmp_path}/served.db",
        # Cheap hashing and no stall: these tests are about processes, not timing.
        "PASSWORD_ARGON2_MEMORY_COST": "1024",
        "PASSWORD_ARGON2_TIME_COST": "1",
        "LOGIN_STALL_TIME": "0",
        **variables,
    }
    env.pop("TEST_DATABASE_URL", None)
    return env


@contextmanager
def served(tmp_path: Path, *, migrate: bool = False, **variables: str) -> Iterator[Served]:
    """The server on a free port, its output (stdout and stderr) in `tmp_path/server.log`;
    stopped (SIGTERM, then killed) on the way out."""
    port = free_port()
    env = environment(tmp_path, PORT=str(port), **variables)
    if migrate:
        subprocess.run([sys.executable, "-m", "app", "migrate"], cwd=ROOT, env=env, check=True, timeout=60)
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(f"{base_url}/health/live", timeout=1)
                    break
                except httpx.TransportError:
                    assert process.poll() is None and time.monotonic() < deadline, log.read_text()
                    time.sleep(0.1)
            yield Served(base_url, log, process)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
