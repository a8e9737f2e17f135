"""`make bench`: requests/s, p50/p99 and server memory for the paths that matter, next to a
bare Strawberry query measured in the same run. Numbers are for comparison on one machine;
the ratios are what to watch.

    python -m bench [--seconds 5] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.load import Result, fetch, graphql_request, run

ROOT = Path(__file__).resolve().parents[1]
ADMIN = ("bench@example.com", "bench password 123")
LOGIN = "mutation($e: String!, $p: String!) { auth_login(email: $e, password: $p) { access_token } }"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Server:
    def __init__(self, target: str, env: dict[str, str]) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                target,
                "--port",
                str(self.port),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=ROOT,
            env={**os.environ, **env},
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{target} did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def row(name: str, result: Result, memory: float) -> str:
    return (
        f"| {name:<46} | {result.rate:>9,.0f} | {result.percentile(50):>7.2f} | {result.percentile(99):>8.2f} "
        f"| {result.errors:>6} | {memory:>7.1f} |"
    )


async def main(seconds: float, connections: int, database_url: str | None) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="auth-bench-"))
    env = {
        "DATABASE_URL": database_url or f"sqlite://{workdir}/bench.db",
        "SECRET": "bench-secret-" + "x" * 40,
        "RATE_LIMITER_ENABLED": "false",
        "LOGIN_STALL_TIME": "0",
        "LOG_LEVEL": "warning",
        "ADMIN_EMAIL": ADMIN[0],
        "ADMIN_PASSWORD": ADMIN[1],
    }
    for command in (["migrate"], ["create-admin", "--from-env"]):
        subprocess.run(
            [sys.executable, "-m", "app", *command],
            cwd=ROOT,
            env={**os.environ, **env},
            check=True,
            stdout=subprocess.DEVNULL,
        )

    lines = [
        f"{connections} connections, {seconds:g} s per row, one uvicorn worker (uvloop), "
        f"{'PostgreSQL' if env['DATABASE_URL'].startswith('postgres') else 'SQLite'}, "
        f"{os.cpu_count()} cores, argon2id m=19456 t=2 p=1",
        "",
        "| path | req/s | p50 ms | p99 ms | errors | RSS MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]

    baseline = Server("bench.baseline:app", {})
    try:
        result = await run(
            baseline.port,
            graphql_request(baseline.port, "{ hello }"),
            connections=connections,
            seconds=seconds,
            check=b"world",
        )
        lines.append(row("bare Strawberry `{ hello }` (baseline)", result, rss_mb(baseline.process.pid)))
    finally:
        baseline.stop()

    server = Server("app.main:app", env)
    try:
        port = server.port
        body = await fetch(port, graphql_request(port, LOGIN, {"e": ADMIN[0], "p": ADMIN[1]}))
        token = json.loads(body)["data"]["auth_login"]["access_token"]
        me = graphql_request(port, "{ users_me { id email } }", token=token)

        result = await run(port, graphql_request(port, "{ __typename }"), connections=connections, seconds=seconds)
        lines.append(row("`{ __typename }`, no token", result, rss_mb(server.process.pid)))
        result = await run(port, me, connections=connections, seconds=seconds, check=ADMIN[0].encode())
        lines.append(row("`{ users_me }` with a valid access token", result, rss_mb(server.process.pid)))

        login = graphql_request(port, LOGIN, {"e": ADMIN[0], "p": ADMIN[1]})
        storm, during = await asyncio.gather(
            run(port, login, connections=8, seconds=seconds, check=b"access_token"),
            run(port, me, connections=connections, seconds=seconds, check=ADMIN[0].encode()),
        )
        memory = rss_mb(server.process.pid)
        lines.append(row("`auth_login` storm (8 clients)", storm, memory))
        lines.append(row("`{ users_me }` during the storm", during, memory))
    finally:
        server.stop()
    print("\n".join(lines))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--database-url", help="default: a new SQLite file (a PostgreSQL database is migrated)")
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.connections, args.database_url))
