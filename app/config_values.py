"""How configuration is read: variable text to typed values, the environment, error messages.

The settings themselves are declared in `app/config.py`; this is the machinery under them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Any, Literal

from dotenv import dotenv_values
from pydantic import AfterValidator, BaseModel, BeforeValidator, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode
from pydantic_settings.sources.utils import parse_env_vars

ENV_FILE = ".env"

_DURATION = re.compile(r"^\s*(\d+)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
# Directus's pino levels and Python's names, as the Python level they mean.
_LOG_LEVELS = {
    "trace": "debug",
    "debug": "debug",
    "info": "info",
    "warn": "warning",
    "warning": "warning",
    "error": "error",
    "fatal": "critical",
    "silent": "critical",
}
_BOOL = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}


def parse_duration(value: str) -> float:
    """`15m`, `7d`, `10s`, `500ms` or plain seconds, as seconds."""
    match = _DURATION.match(value)
    if not match:
        raise ValueError("not a duration (use e.g. 900, 15m, 7d, 500ms)")
    return int(match.group(1)) * _UNITS[match.group(2)]


def format_duration(seconds: float) -> str:
    """The shortest way to write `seconds` that `parse_duration` reads back."""
    if seconds != int(seconds):
        return f"{round(seconds * 1000)}ms"
    for unit in ("d", "h", "m"):
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{int(seconds // _UNITS[unit])}{unit}"
    return f"{int(seconds)}s"


# Each converter takes a variable's text; a value that is already typed (a default, or a
# field set in code) passes through to pydantic's own check.


def _duration(value: object) -> object:
    return parse_duration(value) if isinstance(value, str) else value


def _milliseconds(value: object) -> object:
    if isinstance(value, str):
        if not value.strip().isdigit():
            raise ValueError("not a whole number of milliseconds (e.g. 500)")
        return int(value) / 1000
    return value


def _flag(value: object) -> object:
    if isinstance(value, str):
        if value.strip().lower() not in _BOOL:
            raise ValueError("use true/false, 1/0, yes/no or on/off")
        return _BOOL[value.strip().lower()]
    return value


def _csv(value: object) -> object:
    return tuple(item.strip() for item in value.split(",") if item.strip()) if isinstance(value, str) else value


# IP_TRUST_PROXY=true: loopback and the private ranges, where a reverse proxy usually sits.
PRIVATE_NETWORKS = ("127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")


def _networks(value: object) -> object:
    """`false`, `true` (PRIVATE_NETWORKS) or a comma list of addresses and CIDRs."""
    if not isinstance(value, str):
        return value
    word = value.strip().lower()
    if word in _BOOL:
        return tuple(ip_network(n) for n in PRIVATE_NETWORKS) if _BOOL[word] else ()
    return tuple(ip_network(entry.strip(), strict=False) for entry in value.split(",") if entry.strip())


def _folder(value: Path) -> Path:
    # Checked at start-up: a typo would otherwise leave the built-in templates in use unnoticed.
    if not value.is_dir():
        raise ValueError("no such folder")
    return value


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _log_level(value: object) -> object:
    if isinstance(value, str):
        if value.strip() not in _LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(_LOG_LEVELS)}")
        return _LOG_LEVELS[value.strip()]
    return value


DURATION = BeforeValidator(_duration)
MILLISECONDS = BeforeValidator(_milliseconds)
Duration = Annotated[float, DURATION]  # seconds; written `15m`, `7d`, `3600`, `500ms`
Milliseconds = Annotated[float, MILLISECONDS]  # written in ms, held in seconds
Flag = Annotated[bool, BeforeValidator(_flag)]
# NoDecode: a comma list, not the JSON pydantic-settings expects for sequences.
Csv = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_csv)]
LogLevel = Annotated[str, BeforeValidator(_log_level)]
Folder = Annotated[Path, AfterValidator(_folder)]  # an existing folder
Networks = Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode, BeforeValidator(_networks)]
Stripped = BeforeValidator(_strip)  # for choices: `Annotated[Literal[...], Stripped]`
Role = Annotated[Literal["admin", "user", "guest"], Stripped]
SameSite = Annotated[Literal["lax", "strict", "none"], Stripped]


def shown(text: str) -> dict[str, Any]:
    """The default as the README shows it, for a default computed at start-up."""
    return {"default_text": text}


def provider_names(value: str) -> list[str]:
    return [name.strip().lower() for name in value.split(",") if name.strip()]


def process_environment() -> dict[str, str]:
    """The process environment over `.env` (a variable set in both wins from the environment)."""
    file = {k: v for k, v in dotenv_values(ENV_FILE).items() if v is not None} if Path(ENV_FILE).exists() else {}
    return {**file, **os.environ}


class Environment(EnvSettingsSource):
    """pydantic-settings' reading of variables, from a given mapping; the AUTH_<NAME>_*
    variables are gathered per provider named in AUTH_PROVIDERS, for its model to validate."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)

    def __call__(self) -> dict[str, Any]:
        data = super().__call__()
        if isinstance(names := data.get("AUTH_PROVIDERS"), str):
            data["AUTH_PROVIDERS"] = [self._provider(name) for name in provider_names(names)]
        return data

    def _provider(self, name: str) -> dict[str, Any]:
        prefix = f"AUTH_{name.upper()}_"
        given = {k.removeprefix(prefix): v for k, v in self.env_vars.items() if k.startswith(prefix) and v}
        return {**given, "name": name}


def _variables(model: type[BaseModel]) -> dict[str, tuple[str, FieldInfo]]:
    """Field name or alias -> (variable, field): an error's location names either."""
    found = {}
    for name, field in model.model_fields.items():
        if field.alias:
            found[name] = found[field.alias] = (field.alias, field)
    return found


def explain(
    exc: ValidationError, environ: Mapping[str, str], settings: type[BaseModel], provider: type[BaseModel]
) -> str:
    """One line per error, naming the variable (and the value, unless it is a secret)."""
    providers = provider_names(environ.get("AUTH_PROVIDERS", ""))
    lines = []
    for error in exc.errors():
        if error["type"] == "default_factory_not_called":
            continue  # a default computed from a value that is itself in error
        cause = error.get("ctx", {}).get("error")
        reason = str(cause) if isinstance(cause, ValueError) else error["msg"]
        loc = error["loc"]
        if not loc or (loc[0] == "AUTH_PROVIDERS" and len(loc) == 2):
            lines.append(reason)  # a rule across variables: its message names them
            continue
        variable, field = _variables(settings)[str(loc[0])]
        if variable == "AUTH_PROVIDERS" and len(loc) > 2 and isinstance(loc[1], int):
            suffix, field = _variables(provider)[str(loc[2])]
            variable = f"AUTH_{providers[loc[1]].upper()}_{suffix}"
        if error["type"] == "missing":
            lines.append(f"{variable}: required")
        elif field.repr is False or "input" not in error:
            lines.append(f"{variable}: {reason}")
        else:
            lines.append(f"{variable}: invalid value {error['input']!r}: {reason}")
    return "; ".join(lines)
