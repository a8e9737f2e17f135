"""JSON bodies and error mapping shared by the REST routes and middleware."""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from app.errors import AppError, InvalidPayload
from app.http.bodies import parse_json

log = logging.getLogger("app.http")

# Answers that carry tokens or a person's data must not be kept by any cache (RFC 6749 5.1).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

MAX_JSON_BODY = 2 * 1024 * 1024


def error_response(error: AppError) -> JSONResponse:
    headers = {}
    if "retry_after" in error.extensions:
        headers["Retry-After"] = str(error.extensions["retry_after"])
    return JSONResponse({"errors": [error.as_json()]}, status_code=error.status, headers=headers)


async def json_body(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise InvalidPayload("Send a JSON body (Content-Type: application/json).")
    raw = await request.body()
    if len(raw) > MAX_JSON_BODY:
        raise InvalidPayload("Request body is too large.")
    body = parse_json(raw or b"{}")
    if not isinstance(body, dict):
        raise InvalidPayload("Request body must be a JSON object.")
    return body


def field(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidPayload(f'"{name}" is required.')
        return None
    if not isinstance(value, str):
        raise InvalidPayload(f'"{name}" must be a string.')
    return value
