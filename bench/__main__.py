"""`make bench`: the hot paths next to a bare Strawberry query measured in the same run, with
the targets they are held to. Prints one table and writes it as JSON (bench/results/) so two
commits can be compared. Numbers are for one machine; the ratios are what to watch.

    python -m bench [--seconds 5] [--database-url postgres://...] [--growth]

BENCH_DATABASE_URL works like --database-url. --growth (PostgreSQL only) measures again with
1,000,000 users and sessions seeded by COPY.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.load import Load, Result, fetch, generator, run

ROOT = Path(__file__).resolve().parents[1]
ADMIN = ("bench@example.com", "bench password 123")
LOGIN = "mutation($e: String!, $p: String!) { auth_login(email: $e, password: $p) { access_token refresh_token } }"
REFRESH = "mutation($t: String) { auth_refresh(refresh_token: $t) { access_token refresh_token } }"
ME = "{ users_me { id email } }"
CONNECTIONS = 32
# The shipped argon2id parameters (contract section 7) and hashing threads (cores - 1, at least 1).
ARGON2 = {"memory_cost": 19456, "rounds": 2, "parallelism": 1}
HASH_THREADS = max(1, (os.cpu_count() or 2) - 1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process, all threads (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Server:
    def __init__(self, target: str, env: dict[str, str]) -> None:
        self.port = free_port()
        command = [sys.executable, "-m", "uvicorn", target, "--port", str(self.port), "--loop", "uvloop"]
        command += ["--http", "httptools", "--log-level", "warning", "--no-access-log"]
        self.process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{target} did not start")

    @property
    def rss(self) -> float:
        return rss_mb(self.process.pid)

    async def load(self, load: Load, **options: Any) -> Result:
        """`run` against this server, with its CPU time per answered request."""
        before = cpu_seconds(self.process.pid)
        result = await run(self.port, load, **options)
        answered = result.requests - result.errors
        if answered:
            result.cpu_us = (cpu_seconds(self.process.pid) - before) / answered * 1e6
        return result

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@dataclass
class Row:
    name: str
    result: Result | None = None
    value: str = ""
    target: str = ""
    met: bool | None = None

    def line(self) -> str:
        r = self.result
        cells = [f"{r.rate:,.0f}", f"{r.p50:.1f}", f"{r.p99:.1f}", f"{r.cpu_us:,.0f}", str(r.errors)] if r else [""] * 5
        verdict = "" if self.met is None else ("met" if self.met else "**missed**")
        return f"| {self.name} | {' | '.join(cells)} | {self.value} | {self.target} | {verdict} |"

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, **(self.result.as_json() if self.result else {}), "value": self.value,
                "target": self.target, "met": self.met}  # fmt: skip


def one_verify_ms() -> float:
    """One argon2id verify with the shipped parameters, in this process (the hashing cost a
    sign-in cannot go below)."""
    from passlib.hash import argon2

    hasher = argon2.using(**ARGON2)
    digest = hasher.hash("bench password 123")
    times = []
    for _ in range(15):
        started = time.perf_counter()
        hasher.verify("bench password 123", digest)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def prepare(env: dict[str, str]) -> None:
    for command in (["migrate"], ["create-admin", "--from-env"]):
        subprocess.run([sys.executable, "-m", "app", *command], cwd=ROOT, env={**os.environ, **env}, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip


async def sign_in(port: int) -> dict[str, str]:
    answer = await fetch(port, Load(LOGIN, {"e": ADMIN[0], "p": ADMIN[1]}))
    tokens: dict[str, str] = answer["data"]["auth_login"]  # type: ignore[index]
    return tokens


async def measure_server(port: int, seconds: float, rows: list[Row], bare: Result | None, server: Server) -> None:
    tokens = await sign_in(port)
    rows.append(Row("RSS idle, MB", value=f"{server.rss:.0f}", target="≤ 90", met=server.rss <= 90))
    me = Load(ME, token=tokens["access_token"], expect=ADMIN[0])
    await run(port, me, connections=CONNECTIONS, seconds=1)  # warm-up: first connections, caches
    alone = await server.load(me, connections=CONNECTIONS, seconds=seconds)
    ratio = alone.rate / bare.rate if bare and bare.rate else float("nan")
    rows.append(Row(f"`{ME}`, valid token, c={CONNECTIONS}", alone, f"{ratio:.0%} of bare", "≥ 55%", ratio >= 0.55))

    # Rotating chains need the built-in generator (one token per connection), so the ratio is
    # taken against users_me under that same generator.
    me_builtin = await server.load(me, connections=CONNECTIONS, seconds=seconds, builtin=True)
    rows.append(Row(f"`{ME}`, c={CONNECTIONS}, built-in generator", me_builtin))
    chains = tuple([(await sign_in(port))["refresh_token"] for _ in range(CONNECTIONS)])
    refresh = await server.load(Load(REFRESH, expect="refresh_token", chain=chains), connections=CONNECTIONS,
                        seconds=seconds)  # fmt: skip
    ratio = refresh.rate / me_builtin.rate if me_builtin.rate else float("nan")
    by_cpu = me_builtin.cpu_us / refresh.cpu_us
    rows.append(Row(f"`auth_refresh` rotating chains, c={CONNECTIONS}, built-in generator", refresh,
                    f"{ratio:.0%} of users_me ({by_cpu:.0%} by server CPU)", "≥ 50%", ratio >= 0.5))  # fmt: skip

    verify = one_verify_ms()
    login = Load(LOGIN, {"e": ADMIN[0], "p": ADMIN[1]}, expect="access_token")
    single = await server.load(login, connections=1, seconds=seconds)
    ratio = single.p50 / verify
    rows.append(Row("`auth_login`, c=1", single, f"{single.p50:.1f} ms = {ratio:.2f}× one verify ({verify:.1f} ms)",
                    "≤ 1.3×", ratio <= 1.3))  # fmt: skip
    many = await server.load(login, connections=16, seconds=seconds)
    ceiling = HASH_THREADS / verify * 1000
    ratio = many.rate / ceiling
    rows.append(Row("`auth_login`, c=16", many, f"{ratio:.0%} of {HASH_THREADS} thread(s) ÷ one verify",
                    "≥ 90%", ratio >= 0.9))  # fmt: skip

    # A p99 is a few dozen requests: one hiccup of the shared cores moves it. So the storm runs
    # three times, each right after a users_me run of its own, and the middle ratio counts.
    pairs = []
    for _ in range(3):
        before = await run(port, me, connections=CONNECTIONS, seconds=seconds)
        storm, during = await asyncio.gather(
            run(port, login, connections=8, seconds=seconds), run(port, me, connections=CONNECTIONS, seconds=seconds)
        )
        pairs.append((during.p99 / before.p99, before, storm, during))
    ratio, before, storm, during = sorted(pairs, key=lambda pair: pair[0])[1]
    rows.append(Row("`auth_login` storm, c=8 (the middle of three)", storm))
    rows.append(Row(f"`users_me` during the storm, c={CONNECTIONS}", during,
                    f"p99 {ratio:.1f}× alone ({before.p99:.1f} ms just before)", "≤ 3×", ratio <= 3))  # fmt: skip
    rows.append(Row("RSS after the runs, MB", value=f"{server.rss:.0f}", target="≤ 150", met=server.rss <= 150))


def environment(database_url: str | None) -> dict[str, str]:
    """The served app's settings: a new SQLite file unless `database_url`."""
    workdir = Path(tempfile.mkdtemp(prefix="auth-bench-"))
    return {
        "DATABASE_URL": database_url or f"sqlite://{workdir}/bench.db",
        "SECRET": "bench-secret-" + "x" * 40,
        "RATE_LIMITER_ENABLED": "false",
        # Concurrent sign-ins to one account draw on its attempt budget before the password
        # check; the bench measures hashing, not that budget.
        "LOGIN_ATTEMPTS_PER_ACCOUNT": "0",
        "LOGIN_STALL_TIME": "0",
        "LOG_LEVEL": "warning",
        "ADMIN_EMAIL": ADMIN[0],
        "ADMIN_PASSWORD": ADMIN[1],
    }


async def measure(seconds: float, database_url: str | None, growth: bool) -> dict[str, object]:
    env = environment(database_url)
    database = "PostgreSQL" if env["DATABASE_URL"].startswith("postgres") else "SQLite"
    if database == "PostgreSQL":
        from bench.growth import reset

        await reset(env["DATABASE_URL"])
    prepare(env)

    rows: list[Row] = []
    baseline = Server("bench.baseline:app", {})
    try:
        await run(baseline.port, Load("{ hello }", expect="world"), connections=CONNECTIONS, seconds=1)  # warm-up
        bare = await baseline.load(Load("{ hello }", expect="world"), connections=CONNECTIONS, seconds=seconds)
        rows.append(Row(f"bare Strawberry `{{ hello }}`, c={CONNECTIONS} (the ceiling)", bare, "100%"))
        rows.append(Row("bare RSS, MB", value=f"{baseline.rss:.0f}"))
    finally:
        baseline.stop()

    server = Server("app.main:app", env)
    try:
        await measure_server(server.port, seconds, rows, bare, server)
    finally:
        server.stop()

    growth_rows: list[Row] = []
    if growth:
        from bench.growth import grow_and_measure

        growth_rows = await grow_and_measure(env, seconds, Server)

    title = (
        f"{database}, {os.cpu_count()} cores shared with the load generator ({generator()}), one uvicorn worker "
        f"(uvloop), {seconds:g} s per row, argon2id m=19456 t=2 p=1, {HASH_THREADS} hashing thread(s)"
    )
    lines = [title, "", "| workload | req/s | p50 ms | p99 ms | server CPU µs/req | errors | measured | target | |",
             "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |"]  # fmt: skip
    lines += [row.line() for row in rows + growth_rows]
    print("\n".join(lines))
    return {"title": title, "database": database, "rows": [row.as_json() for row in rows + growth_rows]}


def commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)  # noqa: S607
    return done.stdout.strip() or "unknown"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL"),
        help="default: BENCH_DATABASE_URL, else a new SQLite file (PostgreSQL is emptied and migrated)",
    )
    parser.add_argument("--growth", action="store_true", help="PostgreSQL: 1,000 then 1,000,000 users and sessions")
    parser.add_argument("--json", type=Path, help="default: bench/results/<commit>-<database>.json")
    args = parser.parse_args()
    if args.growth and not (args.database_url or "").startswith("postgres"):
        parser.error("--growth needs --database-url postgres://... (or BENCH_DATABASE_URL)")
    report = asyncio.run(measure(args.seconds, args.database_url, args.growth))
    path = args.json or ROOT / "bench" / "results" / f"{commit()}-{str(report['database']).lower()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"commit": commit(), **report}, indent=2) + "\n")
    print(f"\nwritten to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
