"""Log output: text (the default) or, with LOG_FORMAT=json, one JSON object per line.

A JSON line holds `time`, `level`, `logger`, `message`, `request_id` (the `X-Request-Id` of
the request being served, or null) and, when there is one, `exception`; uvicorn's access lines
add `client`, `method`, `path` and `status`. Every JSON handler carries `RedactSecrets`, and
the formatter redacts once more what it writes, so no token or password value reaches a line
(the text format keeps printing `EMAIL_TRANSPORT=log` mail whole, for development).
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from app import redaction
from app.config import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

# The id of the request being served (app/http/request_id.py sets it), for log lines.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redaction.redact(record.getMessage()),
            "request_id": request_id.get(),
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, _, status = record.args
            line.update(client=client, method=method, path=redaction.redact(str(path)), status=status)
        if record.exc_info:
            line["exception"] = redaction.redact(self.formatException(record.exc_info))
        elif record.exc_text:
            line["exception"] = redaction.redact(record.exc_text)
        return json.dumps(line, default=str)


def log_config(settings: Settings) -> dict[str, Any]:
    """uvicorn's `log_config` for `python -m app serve` (applied again in every worker):
    redaction on every handler and, for LOG_FORMAT=json, JSON from uvicorn's loggers and
    from the app's (through the root logger)."""
    config = redaction.log_config()
    if settings.log_format == "json":
        for formatter in config["formatters"].values():
            formatter.clear()
            formatter["()"] = "app.logs.JsonFormatter"
        config["root"] = {"handlers": ["default"], "level": settings.log_level.upper()}
    return config


def configure(settings: Settings) -> None:
    """Logging for the served app (`app.main:app`); what `log_config` already set up stays."""
    root = logging.getLogger()
    if not root.handlers:  # run as `uvicorn app.main:app`, without our log_config
        if settings.log_format == "json":
            handler = logging.StreamHandler()
            handler.setFormatter(JsonFormatter())
            handler.addFilter(redaction.RedactSecrets())
            root.addHandler(handler)
            root.setLevel(settings.log_level.upper())
            for name in ("uvicorn", "uvicorn.access"):
                for uvicorn_handler in logging.getLogger(name).handlers:
                    uvicorn_handler.setFormatter(JsonFormatter())
        else:
            logging.basicConfig(level=settings.log_level.upper(), format=TEXT_FORMAT)
    redaction.install()
