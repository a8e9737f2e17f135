"""`python -m tests.idle_server EMAIL PASSWORD OUT`: the served app (`app.main:app` in uvicorn,
this process's environment as its settings) signs EMAIL in once and stops; OUT gets its
answer and the top-level packages this process had imported by then, as JSON."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import uvicorn

LOGIN = "mutation($e: String!, $p: String!) { auth_login(email: $e, password: $p) { access_token } }"


async def sign_in(port: int, email: str, password: str) -> Any:
    """One POST /graphql on a plain connection: no HTTP client package of our own loaded."""
    body = json.dumps({"query": LOGIN, "variables": {"e": email, "p": password}}).encode()
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.encode() + body)
        response = await reader.read()  # to the end: the server closes after answering
    finally:
        writer.close()
    return json.loads(response.partition(b"\r\n\r\n")[2])


async def main(email: str, password: str, out: Path) -> None:
    server = uvicorn.Server(uvicorn.Config("app.main:app", host="127.0.0.1", port=0, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()  # a failed start-up raises here
            raise RuntimeError("the server stopped before it started")
        await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    answer = await sign_in(port, email, password)
    server.should_exit = True
    await serving
    modules = sorted({name.split(".")[0] for name in sys.modules})
    out.write_text(json.dumps({"answer": answer, "modules": modules}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], Path(sys.argv[3])))
