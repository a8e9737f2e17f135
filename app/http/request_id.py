"""`X-Request-Id` on every response, and in every log line written while the request runs.

A well-formed id from the client (a proxy or a caller tracing its own requests) is kept;
anything else is replaced by a fresh one, so the id in a log line is never arbitrary client
text (no spaces, quotes or line breaks to forge a line with).
"""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import logs

HEADER = "X-Request-Id"
_WELL_FORMED = re.compile(rb"[A-Za-z0-9._-]{1,128}")


def new_id() -> str:
    return uuid.uuid4().hex


def chosen(scope: Scope) -> str:
    """The client's id when it is well-formed, else a new one."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            return value.decode("ascii") if _WELL_FORMED.fullmatch(value) else new_id()
    return new_id()


class RequestId:
    """Pure ASGI, outside everything else (Starlette's error handler included), so 500s and
    413s carry the header too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = chosen(scope)
        token = logs.request_id.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            logs.request_id.reset(token)
