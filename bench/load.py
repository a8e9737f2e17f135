"""A small keep-alive HTTP/1.1 load generator on asyncio streams (httpx would be the
bottleneck). Bounded in requests and time; loopback only."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def graphql_request(
    port: int, query: str, variables: dict[str, object] | None = None, token: str | None = None
) -> bytes:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
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


async def _worker(port: int, request: bytes, deadline: float, result: Result, check: bytes | None) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(request)
            status, body = await _read_response(reader)
            if status != 200 or (check is not None and check not in body) or b'"errors"' in body:
                result.errors += 1
            else:
                result.latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


async def run(port: int, request: bytes, *, connections: int, seconds: float, check: bytes | None = None) -> Result:
    result = Result()
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(_worker(port, request, deadline, result, check) for _ in range(connections)))
    result.elapsed = time.perf_counter() - started
    return result


async def fetch(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        _, body = await _read_response(reader)
        return body
    finally:
        writer.close()
