"""Every response carries X-Request-Id; JSON log lines carry it too, and no secret."""

from __future__ import annotations

import io
import json
import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from starlette.requests import Request
from starlette.routing import Route

from app.logs import JsonFormatter
from app.main import create_app
from app.redaction import REDACTED, RedactSecrets
from tests.conftest import BASE_URL, Api, make_settings
from tests.served import served

UUID_HEX = re.compile(r"[0-9a-f]{32}")


async def test_every_response_carries_a_request_id(api: Api) -> None:
    answers = [
        await api.http.get("/health"),
        await api.http.get("/no/such/page"),
        await api.http.post("/auth/login", json={}),
        await api.http.post("/graphql", json={"query": "{ __typename }"}),
        await api.http.post("/graphql", content=b"x" * (3 * 1024 * 1024), headers={"Content-Type": "application/json"}),
    ]
    assert [a.status_code for a in answers] == [200, 404, 400, 200, 413]
    ids = [a.headers["X-Request-Id"] for a in answers]
    assert all(UUID_HEX.fullmatch(i) for i in ids), ids
    assert len(set(ids)) == len(ids)


async def test_a_well_formed_request_id_is_kept_and_others_replaced(api: Api) -> None:
    kept = await api.http.get("/health", headers={"X-Request-Id": "lb-7f3a.01_x"})
    assert kept.headers["X-Request-Id"] == "lb-7f3a.01_x"
    for sent in ("two words", "a" * 129, 'quote"d', "new\\nline"):
        answer = await api.http.get("/health", headers={"X-Request-Id": sent})
        assert UUID_HEX.fullmatch(answer.headers["X-Request-Id"]), sent


async def test_an_unexpected_error_answers_500_with_the_request_id() -> None:
    # A route that fails as a bug would: Starlette's own error handler answers, and the id
    # is added outside it.
    async def broken(request: Request) -> None:
        raise RuntimeError("a bug")

    app = create_app(make_settings())
    app.router.routes.append(Route("/broken", broken))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        answer = await client.get("/broken", headers={"X-Request-Id": "trace-500"})
    assert answer.status_code == 500
    assert answer.headers["X-Request-Id"] == "trace-500"


@contextmanager
def json_lines(logger: str = "app") -> Iterator[io.StringIO]:
    """What LOG_FORMAT=json writes for `logger`, as configured by `python -m app serve`."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactSecrets())
    target = logging.getLogger(logger)
    level = target.level
    target.addHandler(handler)
    target.setLevel(logging.INFO)
    try:
        yield out
    finally:
        target.removeHandler(handler)
        target.setLevel(level)


async def test_json_log_lines_carry_the_request_id_and_no_token(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(EMAIL_TRANSPORT="log") as api:
        await api.signup()
        with json_lines() as out:
            answer = await api.http.post(
                "/auth/password/request", json={"email": "ana@example.com"}, headers={"X-Request-Id": "reset-1"}
            )
            assert answer.status_code == 204
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    mail = [line for line in lines if line["logger"] == "app.mail"]
    assert len(mail) == 1, lines
    assert mail[0]["request_id"] == answer.headers["X-Request-Id"] == "reset-1"
    assert {"time", "level", "logger", "message", "request_id"} <= mail[0].keys()
    # The emailed link is in the message, its token is not.
    link_tokens = re.findall(r"[?&]token=([^\s&]+)", mail[0]["message"])
    assert link_tokens == [REDACTED], mail[0]["message"]


def test_json_lines_hold_the_exception_and_redact_it() -> None:
    try:
        raise ValueError("bad link /auth/pages/reset-password?token=Leaked-Token-1")
    except ValueError:
        record = logging.LogRecord("app.x", logging.ERROR, __file__, 1, "failed on %s", ("?code=Oauth-Code-2",), None)
        import sys

        record.exc_info = sys.exc_info()
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "ERROR" and line["request_id"] is None
    assert "ValueError" in line["exception"]
    assert "Leaked-Token-1" not in json.dumps(line) and "Oauth-Code-2" not in json.dumps(line)


CREATE = """mutation($email: String!, $password: String!) {
  createUser(authProvider: {email: {email: $email, password: $password}}) { id } }"""


def test_the_served_json_log_has_the_request_ids_and_no_secret(tmp_path: Path) -> None:
    password = "Served-Password-Secret-42"
    with served(tmp_path, migrate=True, LOG_FORMAT="json", LOG_LEVEL="info", ACCESS_TOKEN_QUERY_PARAM="true") as server:
        with httpx.Client(base_url=server.base_url, timeout=10) as client:
            variables = {"email": "ana@example.com", "password": password}
            assert "errors" not in client.post("/graphql", json={"query": CREATE, "variables": variables}).json()
            login = client.post("/auth/login", json=variables, headers={"X-Request-Id": "served-login-1"})
            tokens = login.json()["data"]
            refreshed = client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
            assert refreshed.status_code == 200
            by_query = client.get(
                "/graphql", params={"query": "{ users_me { id } }", "access_token": tokens["access_token"]}
            )
            assert by_query.status_code == 200
            reset = client.post("/auth/password/request", json={"email": "ana@example.com"})
            assert reset.status_code == 204
            time.sleep(0.5)  # the mail is logged just after the answer
    output = server.log.read_text()
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    access = {line["path"].split("?")[0]: line for line in lines if line["logger"] == "uvicorn.access"}
    assert login.headers["X-Request-Id"] == "served-login-1"
    assert access["/auth/login"]["request_id"] == "served-login-1"
    assert access["/auth/refresh"]["request_id"] == refreshed.headers["X-Request-Id"]
    assert access["/graphql"]["request_id"] == by_query.headers["X-Request-Id"]
    mail = [line for line in lines if line["logger"] == "app.mail"]
    assert [m["request_id"] for m in mail] == [reset.headers["X-Request-Id"]]
    secrets = (password, tokens["access_token"], tokens["refresh_token"], refreshed.json()["data"]["refresh_token"])
    for secret in secrets:
        assert secret not in output
    assert f"token={REDACTED}" in output
