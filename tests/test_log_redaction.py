"""No token or code reaches a log line: uvicorn's access log has query values redacted."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from app.redaction import REDACTED, RedactSecrets, redact
from tests.conftest import TEST_SECRET


def _access_record(path_with_query: str) -> logging.LogRecord:
    # The shape of uvicorn's access record (uvicorn/protocols/http/httptools_impl.py).
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5555", "GET", path_with_query, "1.1", 200),
        None,
    )


def test_the_filter_redacts_token_bearing_query_values() -> None:
    record = _access_record(
        "/auth/pages/reset-password?token=s3cret-reset&lang=en&access_token=eyJ.x.y"
        "&code=c0de&state=st4te&refresh_token=r3fresh&otp=123456&Id_Token=abc&to%6Ben=enc0ded"
    )
    assert RedactSecrets().filter(record) is True
    line = record.getMessage()
    for secret in ("s3cret-reset", "eyJ.x.y", "c0de", "st4te", "r3fresh", "123456", "abc", "enc0ded"):
        assert secret not in line
    assert f"/auth/pages/reset-password?token={REDACTED}&lang=en&access_token={REDACTED}" in line
    assert line.endswith('HTTP/1.1" 200')


def test_lines_without_secrets_are_left_alone() -> None:
    for text in ("/graphql", "/auth/login/google?redirect=https://app.example/", "GET / 200", "a=b"):
        assert redact(text) == text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_served_access_log_never_shows_a_token(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "SECRET": TEST_SECRET,
        "DATABASE_URL": f"sqlite://{tmp_path}/app.db",
        "LOG_LEVEL": "info",
        "ACCESS_TOKEN_QUERY_PARAM": "true",
    }
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "app", "serve"], cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(f"{base}/health", timeout=1)
                    break
                except httpx.TransportError:
                    assert server.poll() is None and time.monotonic() < deadline, log.read_text()
                    time.sleep(0.1)
            page = httpx.get(f"{base}/auth/pages/reset-password?token=Pw-Reset-Token-123")
            assert page.status_code == 200
            httpx.get(f"{base}/graphql?query=%7B__typename%7D&access_token=eyJAccess.Token.456")
            httpx.get(f"{base}/auth/login/nobody/callback?code=Oauth-Code-789&state=State-Value-0")
        finally:
            server.terminate()
            server.wait(timeout=10)
    output = log.read_text()
    assert "GET /auth/pages/reset-password?token=" in output, output  # the lines are there
    for secret in ("Pw-Reset-Token-123", "eyJAccess.Token.456", "Oauth-Code-789", "State-Value-0"):
        assert secret not in output
