"""No token or code reaches a log line.

Emailed links carry `?token=`, the OAuth callback `?code=&state=`, and
ACCESS_TOKEN_QUERY_PARAM allows `?access_token=`; uvicorn's access log prints the request
line with its query string. `RedactSecrets` rewrites the values of such parameters in every
record it sees; `python -m app serve` puts it on uvicorn's handlers (see `log_config`).
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any
from urllib.parse import unquote

REDACTED = "[redacted]"
# Parameter names whose values are credentials or one-time secrets (compared lowercased).
SENSITIVE = frozenset(
    {
        "token",
        "code",
        "otp",
        "state",
        "nonce",
        "password",
        "secret",
        "key",
        "api_key",
        "signature",
        "ticket",
        "session_state",
        "client_secret",
        "code_verifier",
    }
)
# `?name=value` or `&name=value` (also `;`), as in a request line or a URL.
_PARAMETER = re.compile(r"(?P<lead>[?&;])(?P<name>[^=&;#\s\"']+)=(?P<value>[^&;#\s\"']*)")


def _sensitive(name: str) -> bool:
    name = unquote(name).lower()
    return name in SENSITIVE or name.endswith(("token", "_code", "_otp", "_secret", "password"))


def redact(text: str) -> str:
    """`text` with the values of sensitive query parameters replaced."""
    if "=" not in text:
        return text

    def hide(match: re.Match[str]) -> str:
        if not _sensitive(match["name"]) or not match["value"]:
            return match[0]
        return f"{match['lead']}{match['name']}={REDACTED}"

    return _PARAMETER.sub(hide, text)


class RedactSecrets(logging.Filter):
    """Redacts the message and its string arguments; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's own logging configuration with `RedactSecrets` on each of its handlers,
    so it applies in every worker process too."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_secrets"] = {"()": "app.redaction.RedactSecrets"}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact_secrets")
    return config


def install() -> None:
    """For `uvicorn app.main:app` run without our log configuration."""
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
