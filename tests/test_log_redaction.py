"""No token or code reaches a log line: uvicorn's access log has query values redacted."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx

from app.redaction import REDACTED, RedactSecrets, redact
from tests.served import served


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


def test_the_served_access_log_never_shows_a_token(tmp_path: Path) -> None:
    with served(tmp_path, LOG_LEVEL="info", ACCESS_TOKEN_QUERY_PARAM="true") as server:
        base, log = server.base_url, server.log
        page = httpx.get(f"{base}/auth/pages/reset-password?token=Pw-Reset-Token-123")
        assert page.status_code == 200
        httpx.get(f"{base}/graphql?query=%7B__typename%7D&access_token=eyJAccess.Token.456")
        httpx.get(f"{base}/auth/login/nobody/callback?code=Oauth-Code-789&state=State-Value-0")
    output = log.read_text()
    assert "GET /auth/pages/reset-password?token=" in output, output  # the lines are there
    for secret in ("Pw-Reset-Token-123", "eyJAccess.Token.456", "Oauth-Code-789", "State-Value-0"):
        assert secret not in output
