"""Configuration, read once from the environment and `.env`.

Only this module reads the environment. `Settings.from_env()` validates every value and
raises `ConfigError` naming the variable, so a typo stops start-up instead of surfacing
later as a strange 500.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any

from starlette.config import Config, EnvironError

ENV_FILE = ".env"


class ConfigError(Exception):
    """A configuration value is missing or malformed."""


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
        raise ValueError(f"not a duration: {value!r} (use e.g. 900, 15m, 7d)")
    return int(match.group(1)) * _UNITS[match.group(2)]


def _csv(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


# IP_TRUST_PROXY=true: loopback and the private ranges, where a reverse proxy usually sits.
PRIVATE_NETWORKS = ("127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")


def trusted_proxies(value: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """`false`, `true` (PRIVATE_NETWORKS) or a comma list of addresses and CIDRs."""
    word = value.strip().lower()
    if word in _BOOL:
        return tuple(ip_network(n) for n in PRIVATE_NETWORKS) if _BOOL[word] else ()
    return tuple(ip_network(entry, strict=False) for entry in _csv(value))


class _Reader:
    """Typed access to `starlette.config.Config` that names the variable on any error."""

    def __init__(self, config: Config) -> None:
        self.config = config

    def raw(self, name: str, default: str | None = None) -> str | None:
        try:
            value: object = self.config(name, default=default)
        except EnvironError:  # pragma: no cover - starlette raises only without default
            return default
        return None if value is None else str(value)

    def text(self, name: str, default: str) -> str:
        return self.raw(name, default) or default

    def optional(self, name: str) -> str | None:
        value = self.raw(name)
        return value if value not in (None, "") else None

    def _convert(self, name: str, default: str, convert: Any) -> Any:
        value = self.text(name, default)
        try:
            return convert(value)
        except (ValueError, KeyError) as exc:
            raise ConfigError(f"{name}: invalid value {value!r}: {exc}") from None

    def flag(self, name: str, default: bool) -> bool:
        return bool(self._convert(name, "true" if default else "false", lambda v: _BOOL[v.strip().lower()]))

    def integer(self, name: str, default: int, minimum: int = 0) -> int:
        number = int(self._convert(name, f"{default}", int))
        if number < minimum:
            raise ConfigError(f"{name}: must be at least {minimum}, got {number}")
        return number

    def duration(self, name: str, default: str) -> float:
        return float(self._convert(name, default, parse_duration))

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value: str = self.text(name, default).strip()
        if value not in choices:
            raise ConfigError(f"{name}: must be one of {', '.join(choices)}, got {value!r}")
        return value

    def items(self, name: str) -> tuple[str, ...]:
        return _csv(self.text(name, ""))


@dataclass(frozen=True)
class CookieSettings:
    name: str
    secure: bool
    same_site: str
    domain: str | None


@dataclass(frozen=True)
class SocialProvider:
    """One entry of AUTH_PROVIDERS, from Directus's AUTH_<NAME>_* variables."""

    name: str
    driver: str  # openid | oauth2
    client_id: str
    client_secret: str = field(default="", repr=False)
    issuer_url: str | None = None
    authorize_url: str | None = None
    access_url: str | None = None
    profile_url: str | None = None
    scope: str = "openid email profile"
    identifier_key: str = "sub"
    email_key: str = "email"
    allow_public_registration: bool = False
    default_role: str = "user"
    redirect_allow_list: tuple[str, ...] = ()
    icon: str | None = None
    label: str | None = None
    # GitHub hides private addresses from /user; its /user/emails lists them with "verified".
    emails_url: str | None = None


# Well-known endpoints, used when only the client id and secret are given.
PRESETS: dict[str, dict[str, str]] = {
    "google": {"driver": "openid", "issuer_url": "https://accounts.google.com", "icon": "google", "label": "Google"},
    "github": {
        "driver": "oauth2",
        "authorize_url": "https://github.com/login/oauth/authorize",
        "access_url": "https://github.com/login/oauth/access_token",
        "profile_url": "https://api.github.com/user",
        "emails_url": "https://api.github.com/user/emails",
        "scope": "read:user user:email",
        "identifier_key": "id",
        "icon": "github",
        "label": "GitHub",
    },
    "auth0": {"driver": "openid", "icon": "auth0", "label": "Auth0"},
}


def _social_provider(read: _Reader, name: str) -> SocialProvider:
    prefix = f"AUTH_{name.upper()}_"
    preset = dict(PRESETS.get(name, {}))
    if name == "auth0" and (domain := read.optional(prefix + "DOMAIN")):
        preset["issuer_url"] = f"https://{domain.removeprefix('https://').rstrip('/')}/"

    def text(key: str, default: str | None = None) -> str | None:
        return read.optional(prefix + key) or preset.get(key.lower(), default)

    driver = text("DRIVER")
    if driver not in ("openid", "oauth2"):
        raise ConfigError(f"{prefix}DRIVER: must be openid or oauth2 for provider {name!r}")
    client_id = text("CLIENT_ID")
    if not client_id:
        raise ConfigError(f"{prefix}CLIENT_ID: required for provider {name!r}")
    required = ("ISSUER_URL",) if driver == "openid" else ("AUTHORIZE_URL", "ACCESS_URL", "PROFILE_URL")
    for key in required:
        if not text(key):
            hint = " (or AUTH_AUTH0_DOMAIN)" if name == "auth0" else ""
            raise ConfigError(f"{prefix}{key}: required for the {driver} provider {name!r}{hint}")
    role = read.choice(prefix + "DEFAULT_ROLE", read.text("DEFAULT_ROLE", "user"), ("admin", "user", "guest"))
    return SocialProvider(
        name=name,
        driver=driver,
        client_id=client_id,
        client_secret=text("CLIENT_SECRET") or "",
        issuer_url=text("ISSUER_URL"),
        authorize_url=text("AUTHORIZE_URL"),
        access_url=text("ACCESS_URL"),
        profile_url=text("PROFILE_URL"),
        emails_url=text("EMAILS_URL"),
        scope=text("SCOPE", "openid email profile" if driver == "openid" else "email") or "",
        identifier_key=text("IDENTIFIER_KEY", "sub" if driver == "openid" else "email") or "",
        email_key=text("EMAIL_KEY", "email") or "email",
        allow_public_registration=read.flag(prefix + "ALLOW_PUBLIC_REGISTRATION", False),
        default_role=role,
        redirect_allow_list=read.items(prefix + "REDIRECT_ALLOW_LIST"),
        icon=text("ICON"),
        label=text("LABEL", name.title()),
    )


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    database_url: str = "sqlite://./data/app.db"
    secret: str = field(default="", repr=False)
    public_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"

    access_token_ttl: float = 900
    refresh_token_ttl: float = 7 * 86400
    refresh_token_reuse_interval: float = 10
    access_token_alg: str = "HS256"
    access_token_private_key: str | None = field(default=None, repr=False)
    access_token_audience: str = "authenticated"
    access_token_query_param: bool = False
    refresh_cookie: CookieSettings = CookieSettings("refresh_token", False, "lax", None)
    session_cookie: CookieSettings = CookieSettings("session_token", False, "lax", None)

    admin_email: str | None = None
    admin_password: str | None = field(default=None, repr=False)
    public_registration: bool = True
    email_verification: bool = False
    default_role: str = "user"

    password_min_length: int = 8
    password_max_length: int = 256
    password_hash: str = "argon2id"
    argon2_memory_cost: int = 19456
    argon2_time_cost: int = 2
    argon2_parallelism: int = 1
    password_hash_concurrency: int = 1
    password_min_strength: int = 2
    password_breach_check: bool = False

    email_transport: str = "log"
    email_from: str = "no-reply@example.com"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_secure: bool = False
    smtp_starttls: bool = False

    password_reset_url_allow_list: tuple[str, ...] = ()
    user_register_url_allow_list: tuple[str, ...] = ()
    password_reset_token_ttl: float = 3600
    verification_token_ttl: float = 86400

    auth_disable_default: bool = False
    login_stall_time: float = 0.5

    rate_limiter_enabled: bool = True
    rate_limiter_store: str = "memory"
    rate_limiter_redis: str | None = None
    rate_limiter_points: int = 50
    rate_limiter_duration: int = 1

    graphiql: bool = True
    graphql_introspection: bool = True
    graphql_max_depth: int = 10
    graphql_max_aliases: int = 30
    graphql_max_auth_operations: int = 1
    cors_origin: tuple[str, ...] = ()
    mfa_issuer: str = "GraphQL Auth"
    magic_link_url_allow_list: tuple[str, ...] = ()
    user_invite_url_allow_list: tuple[str, ...] = ()
    magic_link_ttl: float = 900
    sms_transport: str = "log"
    sms_log_file: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = field(default=None, repr=False)
    twilio_from: str | None = None
    sms_code_requests_per_hour: int = 5
    social_providers: tuple[SocialProvider, ...] = ()
    login_attempts_per_account: int = 10
    ip_trust_proxy: tuple[IPv4Network | IPv6Network, ...] = ()  # proxies whose X-Forwarded-For hop counts
    login_attempts_window: float = 900
    invite_token_ttl: float = 7 * 86400

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def issuer(self) -> str:
        return self.public_url.rstrip("/")

    @property
    def tortoise_orm(self) -> dict[str, Any]:
        return tortoise_config(self.database_url)

    @classmethod
    def from_env(cls, config: Config | None = None, **overrides: Any) -> Settings:
        """Read every setting; `overrides` (field names) win, which tests use."""
        read = _Reader(config if config is not None else Config(ENV_FILE if Path(ENV_FILE).exists() else None))
        env = read.choice("ENV", "development", ("development", "production", "test"))
        production = env == "production"
        public_url = read.text("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
        if not re.match(r"^https?://[^/\s]+", public_url):
            raise ConfigError(f"PUBLIC_URL: not an http(s) URL: {public_url!r}")
        secure_default = public_url.startswith("https://")

        def cookie(prefix: str, default_name: str) -> CookieSettings:
            same_site = read.choice(f"{prefix}_COOKIE_SAME_SITE", "lax", ("lax", "strict", "none"))
            secure = read.flag(f"{prefix}_COOKIE_SECURE", secure_default)
            if same_site == "none" and not secure:
                # Browsers drop SameSite=None cookies that are not Secure.
                raise ConfigError(f"{prefix}_COOKIE_SAME_SITE: none needs {prefix}_COOKIE_SECURE=true (https)")
            return CookieSettings(
                name=read.text(f"{prefix}_COOKIE_NAME", default_name),
                secure=secure,
                same_site=same_site,
                domain=read.optional(f"{prefix}_COOKIE_DOMAIN"),
            )

        alg = read.choice("ACCESS_TOKEN_ALG", "HS256", ("HS256", "ES256", "RS256"))
        private_key = read.optional("ACCESS_TOKEN_PRIVATE_KEY")
        if alg != "HS256" and not private_key:
            raise ConfigError(f"ACCESS_TOKEN_PRIVATE_KEY: required when ACCESS_TOKEN_ALG={alg}")

        secret = read.optional("SECRET")
        if secret is None:
            if production:
                raise ConfigError("SECRET: required when ENV=production")
            secret = _local_secret()
        elif len(secret) < 32:
            raise ConfigError("SECRET: must be at least 32 characters")

        default_role = read.choice("DEFAULT_ROLE", "user", ("admin", "user", "guest"))
        values: dict[str, Any] = dict(
            env=env,
            database_url=read.text("DATABASE_URL", "sqlite://./data/app.db"),
            secret=secret,
            public_url=public_url,
            host=read.text("HOST", "127.0.0.1"),
            port=read.integer("PORT", 8000, minimum=1),
            log_level=_LOG_LEVELS[read.choice("LOG_LEVEL", "info", tuple(_LOG_LEVELS))],
            access_token_ttl=read.duration("ACCESS_TOKEN_TTL", "15m"),
            refresh_token_ttl=read.duration("REFRESH_TOKEN_TTL", "7d"),
            refresh_token_reuse_interval=read.duration("REFRESH_TOKEN_REUSE_INTERVAL", "10s"),
            access_token_alg=alg,
            access_token_private_key=private_key,
            access_token_audience=read.text("ACCESS_TOKEN_AUDIENCE", "authenticated"),
            access_token_query_param=read.flag("ACCESS_TOKEN_QUERY_PARAM", False),
            refresh_cookie=cookie("REFRESH_TOKEN", "refresh_token"),
            session_cookie=cookie("SESSION", "session_token"),
            admin_email=read.optional("ADMIN_EMAIL"),
            admin_password=read.optional("ADMIN_PASSWORD"),
            public_registration=read.flag("PUBLIC_REGISTRATION", True),
            email_verification=read.flag("EMAIL_VERIFICATION", False),
            default_role=default_role,
            password_min_length=read.integer("PASSWORD_MIN_LENGTH", 8, minimum=1),
            password_max_length=read.integer("PASSWORD_MAX_LENGTH", 256, minimum=1),
            # zxcvbn's score: 2 = at least 10^6 guesses; 0 turns the estimate off.
            password_min_strength=int(read.choice("PASSWORD_MIN_STRENGTH", "2", ("0", "1", "2", "3", "4"))),
            password_breach_check=read.flag("PASSWORD_BREACH_CHECK", False),
            password_hash=read.choice("PASSWORD_HASH", "argon2id", ("argon2id", "bcrypt")),
            argon2_memory_cost=read.integer("PASSWORD_ARGON2_MEMORY_COST", 19456, minimum=8),
            argon2_time_cost=read.integer("PASSWORD_ARGON2_TIME_COST", 2, minimum=1),
            argon2_parallelism=read.integer("PASSWORD_ARGON2_PARALLELISM", 1, minimum=1),
            password_hash_concurrency=read.integer(
                "PASSWORD_HASH_CONCURRENCY", max(1, (os.cpu_count() or 2) - 1), minimum=1
            ),
            email_transport=read.choice("EMAIL_TRANSPORT", "log", ("log", "smtp")),
            email_from=read.text("EMAIL_FROM", "no-reply@example.com"),
            smtp_host=read.text("EMAIL_SMTP_HOST", "127.0.0.1"),
            smtp_port=read.integer("EMAIL_SMTP_PORT", 25, minimum=1),
            smtp_user=read.optional("EMAIL_SMTP_USER"),
            smtp_password=read.optional("EMAIL_SMTP_PASSWORD"),
            smtp_secure=read.flag("EMAIL_SMTP_SECURE", False),
            smtp_starttls=read.flag("EMAIL_SMTP_STARTTLS", False),
            password_reset_url_allow_list=read.items("PASSWORD_RESET_URL_ALLOW_LIST"),
            user_register_url_allow_list=read.items("USER_REGISTER_URL_ALLOW_LIST"),
            password_reset_token_ttl=read.duration("PASSWORD_RESET_TOKEN_TTL", "1h"),
            verification_token_ttl=read.duration("EMAIL_VERIFICATION_TOKEN_TTL", "1d"),
            auth_disable_default=read.flag("AUTH_DISABLE_DEFAULT", False),
            login_stall_time=read.integer("LOGIN_STALL_TIME", 500) / 1000,
            rate_limiter_enabled=read.flag("RATE_LIMITER_ENABLED", True),
            rate_limiter_store=read.choice("RATE_LIMITER_STORE", "memory", ("memory", "redis")),
            rate_limiter_redis=read.optional("RATE_LIMITER_REDIS"),
            rate_limiter_points=read.integer("RATE_LIMITER_POINTS", 50, minimum=1),
            rate_limiter_duration=read.integer("RATE_LIMITER_DURATION", 1, minimum=1),
            graphiql=read.flag("GRAPHIQL", not production),
            graphql_introspection=read.flag("GRAPHQL_INTROSPECTION", not production),
            graphql_max_depth=read.integer("GRAPHQL_MAX_DEPTH", 10, minimum=2),
            graphql_max_aliases=read.integer("GRAPHQL_MAX_ALIASES", 30, minimum=0),
            graphql_max_auth_operations=read.integer("GRAPHQL_MAX_AUTH_OPERATIONS", 1, minimum=1),
            cors_origin=read.items("CORS_ORIGIN"),
            mfa_issuer=read.text("MFA_ISSUER", "GraphQL Auth"),
            magic_link_url_allow_list=read.items("MAGIC_LINK_URL_ALLOW_LIST"),
            user_invite_url_allow_list=read.items("USER_INVITE_URL_ALLOW_LIST"),
            magic_link_ttl=read.duration("MAGIC_LINK_TTL", "15m"),
            sms_transport=read.choice("SMS_TRANSPORT", "log", ("log", "twilio")),
            sms_log_file=read.optional("SMS_LOG_FILE"),
            twilio_account_sid=read.optional("TWILIO_ACCOUNT_SID"),
            twilio_auth_token=read.optional("TWILIO_AUTH_TOKEN"),
            twilio_from=read.optional("TWILIO_FROM"),
            sms_code_requests_per_hour=read.integer("SMS_CODE_REQUESTS_PER_HOUR", 5, minimum=1),
            ip_trust_proxy=read._convert("IP_TRUST_PROXY", "false", trusted_proxies),
            login_attempts_per_account=read.integer("LOGIN_ATTEMPTS_PER_ACCOUNT", 10, minimum=0),
            login_attempts_window=read.duration("LOGIN_ATTEMPTS_WINDOW", "15m"),
            social_providers=tuple(_social_provider(read, name.lower()) for name in read.items("AUTH_PROVIDERS")),
            invite_token_ttl=read.duration("USER_INVITE_TOKEN_TTL", "7d"),
        )
        if values["password_min_length"] > values["password_max_length"]:
            raise ConfigError("PASSWORD_MIN_LENGTH: larger than PASSWORD_MAX_LENGTH")
        if values["sms_transport"] == "twilio":
            for name, key in (
                ("TWILIO_ACCOUNT_SID", "twilio_account_sid"),
                ("TWILIO_AUTH_TOKEN", "twilio_auth_token"),
                ("TWILIO_FROM", "twilio_from"),
            ):
                if not values[key]:
                    raise ConfigError(f"{name}: required when SMS_TRANSPORT=twilio")
        if values["rate_limiter_store"] == "redis" and not values["rate_limiter_redis"]:
            raise ConfigError("RATE_LIMITER_REDIS: required when RATE_LIMITER_STORE=redis")
        values.update(overrides)
        return cls(**values)


def _local_secret(path: Path = Path("data/secret")) -> str:
    """A development secret generated once and kept, so restarts keep sessions valid."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    path.write_text(value)
    path.chmod(0o600)
    return value


def ensure_sqlite_directory(database_url: str) -> None:
    if database_url.startswith("sqlite://") and ":memory:" not in database_url:
        Path(database_url.removeprefix("sqlite://")).parent.mkdir(parents=True, exist_ok=True)


def tortoise_config(database_url: str) -> dict[str, Any]:
    return {
        "connections": {"default": database_url},
        "apps": {
            "models": {
                "models": ["app.models"],
                "default_connection": "default",
                "migrations": "migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def _database_url_for_tools() -> str:
    reader = _Reader(Config(ENV_FILE if Path(ENV_FILE).exists() else None))
    return reader.text("DATABASE_URL", "sqlite://./data/app.db")


# For the `tortoise` command line (makemigrations / migrate), via [tool.tortoise] in pyproject.
TORTOISE_ORM = tortoise_config(_database_url_for_tools())
