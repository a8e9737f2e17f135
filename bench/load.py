"""Load generators: wrk (when installed, lighter on the shared cores) driven by bench/wrk.lua,
else a small keep-alive HTTP/1.1 client on asyncio streams. Both take the same `Load` and
answer the same `Result`. Loopback only."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

WRK_SCRIPT = Path(__file__).with_name("wrk.lua")


@dataclass(frozen=True)
class Load:
    """POST /graphql with `query`; with `chain`, each connection swaps a refresh token for its
    successor (the query takes `$t`), as clients keeping a session alive do."""

    query: str
    variables: dict[str, object] = field(default_factory=dict)
    token: str | None = None
    expect: str = ""
    chain: tuple[str, ...] = ()

    def body(self, refresh_token: str | None = None) -> bytes:
        variables = dict(self.variables)
        if refresh_token is not None:
            variables["t"] = refresh_token
        return json.dumps({"query": self.query, "variables": variables}).encode()


@dataclass
class Result:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    p50: float = float("nan")  # milliseconds
    p99: float = float("nan")
    # The server's CPU time (all its threads) per answered request, when measured: what a
    # request costs the server, whatever the load generator beside it takes from the cores.
    cpu_us: float = float("nan")

    @property
    def rate(self) -> float:
        return (self.requests - self.errors) / self.seconds if self.seconds else 0.0

    def as_json(self) -> dict[str, float]:
        return {"rate": round(self.rate, 1), "p50_ms": self.p50, "p99_ms": self.p99, "errors": self.errors,
                "server_cpu_us_per_request": round(self.cpu_us, 1)}  # fmt: skip


def generator() -> str:
    return "wrk" if shutil.which("wrk") and not os.environ.get("BENCH_NO_WRK") else "built-in"


async def run(port: int, load: Load, *, connections: int, seconds: float, builtin: bool = False) -> Result:
    """`builtin` forces the asyncio generator; chains always use it (wrk may ask for a
    connection's next request before its answer, so it cannot carry one token per connection)."""
    if generator() == "wrk" and not builtin and not load.chain:
        return await _run_wrk(port, load, connections, seconds)
    return await _run_builtin(port, load, connections, seconds)


async def _run_wrk(port: int, load: Load, connections: int, seconds: float) -> Result:
    env = {
        **os.environ,
        "BENCH_EXPECT": load.expect,
        "BENCH_TOKEN": load.token or "",
        "BENCH_BODY": load.body().decode(),
    }
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "-s", str(WRK_SCRIPT), f"http://127.0.0.1:{port}"]
    process = await asyncio.create_subprocess_exec(*command, env=env, stdout=asyncio.subprocess.PIPE)
    output, _ = await process.communicate()
    line = next((ln for ln in output.decode().splitlines() if ln.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{output.decode()}")
    data = json.loads(line[6:])
    return Result(data["requests"], data["errors"], data["seconds"], data["p50"], data["p99"])


def _request(port: int, body: bytes, token: str | None) -> bytes:
    headers = [
        "POST /graphql HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    if token:
        headers.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next(int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:"))
    return status, await reader.readexactly(length)


async def _run_builtin(port: int, load: Load, connections: int, seconds: float) -> Result:
    latencies: list[float] = []
    failures = 0
    chains = list(load.chain)
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal failures
        refresh = chains.pop() if load.chain else None
        fixed = _request(port, load.body(), load.token)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                request = _request(port, load.body(refresh), load.token) if load.chain else fixed
                started = time.perf_counter()
                writer.write(request)
                status, body = await _read_response(reader)
                latencies.append(time.perf_counter() - started)
                if status != 200 or load.expect.encode() not in body or b'"errors"' in body:
                    failures += 1
                if load.chain:
                    # A refused refresh (null data) keeps the token it had.
                    answer = (json.loads(body).get("data") or {}).get("auth_refresh") or {}
                    refresh = answer.get("refresh_token") or refresh
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    ordered = sorted(latencies)

    def percentile(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000 if ordered else float("nan")

    return Result(len(latencies), failures, time.perf_counter() - started, percentile(50), percentile(99))


async def fetch(port: int, load: Load) -> dict[str, object]:
    """One request, its JSON answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(_request(port, load.body(), load.token))
        _, body = await _read_response(reader)
        answer: dict[str, object] = json.loads(body)
        return answer
    finally:
        writer.close()
