"""Configuration: every setting declared once, read from the environment and `.env`.

Each setting is one pydantic field: its type, its default, the contract's variable name (the
alias) and a one-line description, from which the README's table is generated
(`make docs`). The fields are grouped by concern in small classes that `Settings` combines,
so the rest of the app keeps flat access (`settings.access_token_ttl`).

Only this module (with its machinery in `app/config_values.py`) reads the environment, and
only when asked: `Settings.from_env()`, or the `TORTOISE_ORM` attribute that the `tortoise`
command line looks up. A malformed value raises
`ConfigError` naming the variable and the value, so a typo stops start-up instead of
surfacing later as a strange 500.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict
from starlette.config import Config
from tortoise.backends.base.config_generator import expand_db_url

from app.config_values import (
    Csv,
    Duration,
    Environment,
    Flag,
    Folder,
    LogLevel,
    Milliseconds,
    Networks,
    Role,
    SameSite,
    Stripped,
    explain,
    parse_duration,
    process_environment,
    shown,
)

__all__ = [
    "ConfigError",
    "CookieSettings",
    "Settings",
    "SocialProvider",
    "cors_origins",
    "parse_duration",
    "parse_origin",
    "tortoise_config",
]


class ConfigError(Exception):
    """A configuration value is missing or malformed."""


# --- origins --------------------------------------------------------------------------------

# A web origin as browsers send it in `Origin`: scheme, host and an optional port, nothing else.
_ORIGIN = re.compile(r"(https?)://([a-z0-9._-]+|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?", re.IGNORECASE)
_DEFAULT_PORTS = {"http": "80", "https": "443"}
CORS_ORIGIN_RULE = "entries must be full origins, scheme://host[:port]"


def parse_origin(value: str) -> str | None:
    """`scheme://host[:port]` lowercased, the default port dropped (as browsers send it), or
    None: `null`, `*`, `true`, a bare hostname and a URL with a path are not origins."""
    match = _ORIGIN.fullmatch(value)
    if not match:
        return None
    scheme, host, port = match.group(1).lower(), match.group(2).lower(), match.group(3)
    if port is not None and not 0 < int(port) < 65536:
        return None
    suffix = "" if port is None or port == _DEFAULT_PORTS[scheme] else f":{int(port)}"
    return f"{scheme}://{host}{suffix}"


def cors_origins(values: tuple[str, ...]) -> tuple[str, ...]:
    """CORS_ORIGIN's entries as origins; ValueError for anything else. `*`, `true` or a
    hostname would let any site (and `Origin: null`) make requests that carry our cookies."""
    origins = []
    for value in values:
        origin = parse_origin(value.rstrip("/"))
        if origin is None:
            raise ValueError(f"{CORS_ORIGIN_RULE}; got {value!r}")
        origins.append(origin)
    return tuple(origins)


# --- social providers: AUTH_<NAME>_* ----------------------------------------------------------

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


def _openid(data: dict[str, Any]) -> bool:
    return data.get("driver") == "openid"


class SocialProvider(BaseModel):
    """Each provider named in `AUTH_PROVIDERS`, from its `AUTH_<NAME>_*` variables."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str  # from AUTH_PROVIDERS, lower case
    driver: Literal["openid", "oauth2"] = Field(
        alias="DRIVER",
        description="`openid` or `oauth2`; `google`, `github` and `auth0` come with their driver and URLs",
        json_schema_extra=shown("required"),
    )
    client_id: str = Field(alias="CLIENT_ID", min_length=1, description="the client id registered with the provider")
    client_secret: str = Field("", alias="CLIENT_SECRET", repr=False, description="the client secret")
    domain: str | None = Field(None, alias="DOMAIN", description="`auth0` only: the tenant domain, for the issuer")
    issuer_url: str | None = Field(None, alias="ISSUER_URL", description="`openid`: the issuer (discovery document)")
    authorize_url: str | None = Field(None, alias="AUTHORIZE_URL", description="`oauth2`: authorization endpoint")
    access_url: str | None = Field(None, alias="ACCESS_URL", description="`oauth2`: token endpoint")
    profile_url: str | None = Field(None, alias="PROFILE_URL", description="`oauth2`: user profile endpoint")
    # GitHub hides private addresses from /user; its /user/emails lists them with "verified".
    emails_url: str | None = Field(None, alias="EMAILS_URL", description="`oauth2`: a list of verified addresses")
    scope: str = Field(
        default_factory=lambda d: "openid email profile" if _openid(d) else "email",
        alias="SCOPE",
        description="scopes to request",
        json_schema_extra=shown("`openid email profile` (openid), `email` (oauth2)"),
    )
    identifier_key: str = Field(
        default_factory=lambda d: "sub" if _openid(d) else "email",
        alias="IDENTIFIER_KEY",
        description="profile field that identifies the user at the provider",
        json_schema_extra=shown("`sub` (openid), `email` (oauth2)"),
    )
    email_key: str = Field("email", alias="EMAIL_KEY", description="profile field holding the email address")
    allow_public_registration: Flag = Field(
        False, alias="ALLOW_PUBLIC_REGISTRATION", description="create accounts for unknown users"
    )
    default_role: Role = Field(
        alias="DEFAULT_ROLE", description="role of accounts it creates", json_schema_extra=shown("`DEFAULT_ROLE`")
    )
    redirect_allow_list: Csv = Field(
        (), alias="REDIRECT_ALLOW_LIST", description="comma list of URLs the flow may return to"
    )
    icon: str | None = Field(None, alias="ICON", description="icon name shown to clients")
    label: str | None = Field(
        default_factory=lambda d: str(d.get("name", "")).title(),
        alias="LABEL",
        description="display name",
        json_schema_extra=shown("the name, capitalised"),
    )

    @model_validator(mode="before")
    @classmethod
    def _preset(cls, data: Any) -> Any:
        """Well-known providers' endpoints, where the variables leave them unset."""
        if not isinstance(data, dict):
            return data
        preset = {key.upper(): value for key, value in PRESETS.get(data.get("name", ""), {}).items()}
        if data.get("name") == "auth0" and (domain := data.get("DOMAIN")):
            preset["ISSUER_URL"] = f"https://{str(domain).removeprefix('https://').rstrip('/')}/"
        return {**preset, **data}

    @model_validator(mode="after")
    def _endpoints(self) -> SocialProvider:
        prefix = f"AUTH_{self.name.upper()}_"
        required = ("issuer_url",) if self.driver == "openid" else ("authorize_url", "access_url", "profile_url")
        for key in required:
            if not getattr(self, key):
                hint = " (or AUTH_AUTH0_DOMAIN)" if self.name == "auth0" else ""
                raise ValueError(f"{prefix}{key.upper()}: required for the {self.driver} provider {self.name!r}{hint}")
        return self


# --- the settings, by concern -------------------------------------------------------------------
# pydantic validates fields base by base from the right of `Settings`'s bases, so a later
# group's computed defaults can use an earlier group's values (`env`, `public_url`, `default_role`).


class ServerSettings(BaseModel):
    """Server"""

    env: Literal["development", "production", "test"] = Field(
        "development", alias="ENV", description="`development`, `production` or `test`"
    )
    public_url: str = Field(
        "http://127.0.0.1:8000", alias="PUBLIC_URL", description="the URL clients reach this server at; token issuer"
    )
    host: str = Field("127.0.0.1", alias="HOST", description="address to listen on")
    port: int = Field(8000, alias="PORT", ge=1, description="port to listen on")
    database_url: str = Field(
        "sqlite://./data/app.db", alias="DATABASE_URL", description="`sqlite://path` or `postgres://user@host:5432/db`"
    )
    database_timeout: Duration = Field(
        5.0,
        alias="DATABASE_TIMEOUT",
        gt=0,
        description="how long a request waits for the database (a connection, a statement, a SQLite write lock) "
        "before it answers `SERVICE_UNAVAILABLE`",
    )
    secret: str = Field(
        "",
        alias="SECRET",
        repr=False,
        description="signs tokens and encrypts TOTP secrets (at least 32 characters); required when `ENV=production`",
        json_schema_extra=shown("generated once into `./data/secret`"),
    )
    log_level: LogLevel = Field(
        "info", alias="LOG_LEVEL", description="`trace`, `debug`, `info`, `warn`, `error`, `fatal` or `silent`"
    )
    workers: int = Field(
        1, alias="WORKERS", ge=1, description="server processes on this machine (`python -m app serve`)"
    )

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.rstrip("/")
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("not an http(s) URL")
        return value

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: str, info: ValidationInfo) -> str:
        if not value:
            if info.data.get("env") == "production":
                raise ValueError("required when ENV=production")
            return _local_secret()
        if len(value) < 32:
            raise ValueError("must be at least 32 characters")
        return value


def _https(data: dict[str, Any]) -> bool:
    return str(data.get("public_url", "")).startswith("https://")


class TokenSettings(BaseModel):
    """Tokens and cookies"""

    access_token_ttl: Duration = Field(15 * 60, alias="ACCESS_TOKEN_TTL", description="lifetime of an access token")
    refresh_token_ttl: Duration = Field(7 * 86400, alias="REFRESH_TOKEN_TTL", description="lifetime of a session")
    refresh_token_reuse_interval: Duration = Field(
        10,
        alias="REFRESH_TOKEN_REUSE_INTERVAL",
        description="a rotated refresh token still works this long; later reuse revokes the session",
    )
    session_cache_ttl: Duration = Field(
        30,
        alias="SESSION_CACHE_TTL",
        description="how long a live session is remembered in process (revocations still apply at once "
        "on every instance); `0` turns the cache off",
    )
    access_token_alg: Annotated[Literal["HS256", "ES256", "RS256"], Stripped] = Field(
        "HS256", alias="ACCESS_TOKEN_ALG", description="`HS256` (signed with `SECRET`), `ES256` or `RS256`"
    )
    access_token_private_key: str | None = Field(
        None, alias="ACCESS_TOKEN_PRIVATE_KEY", repr=False, description="PEM key for `ES256` / `RS256`"
    )
    access_token_audience: str = Field(
        "authenticated", alias="ACCESS_TOKEN_AUDIENCE", description="`aud` claim of access tokens"
    )
    access_token_query_param: Flag = Field(
        False, alias="ACCESS_TOKEN_QUERY_PARAM", description="also accept the access token as `?access_token=`"
    )
    refresh_token_cookie_name: str = Field(
        "refresh_token", alias="REFRESH_TOKEN_COOKIE_NAME", description="cookie of the `cookie` mode"
    )
    refresh_token_cookie_secure: Flag = Field(
        default_factory=_https,
        alias="REFRESH_TOKEN_COOKIE_SECURE",
        description="`Secure` attribute",
        json_schema_extra=shown("`true` when `PUBLIC_URL` is https"),
    )
    refresh_token_cookie_same_site: SameSite = Field(
        "lax", alias="REFRESH_TOKEN_COOKIE_SAME_SITE", description="`lax`, `strict` or `none` (needs Secure)"
    )
    refresh_token_cookie_domain: str | None = Field(
        None, alias="REFRESH_TOKEN_COOKIE_DOMAIN", description="`Domain` attribute"
    )
    session_cookie_name: str = Field(
        "session_token", alias="SESSION_COOKIE_NAME", description="cookie of the `session` mode"
    )
    session_cookie_secure: Flag = Field(
        default_factory=_https,
        alias="SESSION_COOKIE_SECURE",
        description="`Secure` attribute",
        json_schema_extra=shown("`true` when `PUBLIC_URL` is https"),
    )
    session_cookie_same_site: SameSite = Field(
        "lax", alias="SESSION_COOKIE_SAME_SITE", description="`lax`, `strict` or `none` (needs Secure)"
    )
    session_cookie_domain: str | None = Field(None, alias="SESSION_COOKIE_DOMAIN", description="`Domain` attribute")

    @model_validator(mode="after")
    def _token_rules(self) -> TokenSettings:
        if self.access_token_alg != "HS256" and not self.access_token_private_key:
            raise ValueError(f"ACCESS_TOKEN_PRIVATE_KEY: required when ACCESS_TOKEN_ALG={self.access_token_alg}")
        for prefix, same_site, secure in (
            ("REFRESH_TOKEN", self.refresh_token_cookie_same_site, self.refresh_token_cookie_secure),
            ("SESSION", self.session_cookie_same_site, self.session_cookie_secure),
        ):
            if same_site == "none" and not secure:
                # Browsers drop SameSite=None cookies that are not Secure.
                raise ValueError(f"{prefix}_COOKIE_SAME_SITE: none needs {prefix}_COOKIE_SECURE=true (https)")
        return self


class AccountSettings(BaseModel):
    """Accounts"""

    admin_email: str | None = Field(None, alias="ADMIN_EMAIL", description="admin created by `make run`; unset: none")
    admin_password: str | None = Field(None, alias="ADMIN_PASSWORD", repr=False, description="that admin's password")
    public_registration: Flag = Field(True, alias="PUBLIC_REGISTRATION", description="anyone may sign up")
    email_verification: Flag = Field(
        False, alias="EMAIL_VERIFICATION", description="new accounts confirm their address before signing in"
    )
    default_role: Role = Field("user", alias="DEFAULT_ROLE", description="role of new accounts")
    mfa_issuer: str = Field(
        "GraphQL Auth", alias="MFA_ISSUER", description="the product's name: shown by authenticator apps and in mails"
    )


class PasswordSettings(BaseModel):
    """Passwords"""

    password_min_length: int = Field(8, alias="PASSWORD_MIN_LENGTH", ge=1, description="shortest password accepted")
    password_max_length: int = Field(256, alias="PASSWORD_MAX_LENGTH", ge=1, description="longest password accepted")
    password_hash: Literal["argon2id", "bcrypt"] = Field(
        "argon2id",
        alias="PASSWORD_HASH",
        description="hash for new passwords; other passlib hashes still verify and are upgraded on sign-in",
    )
    argon2_memory_cost: int = Field(
        19456, alias="PASSWORD_ARGON2_MEMORY_COST", ge=8, description="argon2id memory, KiB (OWASP)"
    )
    argon2_time_cost: int = Field(2, alias="PASSWORD_ARGON2_TIME_COST", ge=1, description="argon2id iterations")
    argon2_parallelism: int = Field(1, alias="PASSWORD_ARGON2_PARALLELISM", ge=1, description="argon2id lanes")
    password_hash_concurrency: int = Field(
        default_factory=lambda: max(1, (os.cpu_count() or 2) - 1),
        alias="PASSWORD_HASH_CONCURRENCY",
        ge=1,
        description="threads that hash passwords (never the event loop)",
        json_schema_extra=shown("cores − 1, at least 1"),
    )
    # zxcvbn's score: 2 = at least 10^6 guesses; 0 turns the estimate off.
    password_min_strength: int = Field(
        2,
        alias="PASSWORD_MIN_STRENGTH",
        ge=0,
        le=4,
        description="new passwords scoring lower (zxcvbn, 0–4) are refused with `INVALID_PAYLOAD`; `0`: off",
    )
    password_breach_check: Flag = Field(
        False,
        alias="PASSWORD_BREACH_CHECK",
        description="also refuse passwords found in breaches (Pwned Passwords range API; unreachable: allowed, logged)",
    )

    @model_validator(mode="after")
    def _lengths(self) -> PasswordSettings:
        if self.password_min_length > self.password_max_length:
            raise ValueError("PASSWORD_MIN_LENGTH: larger than PASSWORD_MAX_LENGTH")
        return self


class MailSettings(BaseModel):
    """Mail"""

    email_transport: Literal["log", "smtp"] = Field(
        "log", alias="EMAIL_TRANSPORT", description="`log` prints each mail; `smtp` sends it"
    )
    email_from: str = Field("no-reply@example.com", alias="EMAIL_FROM", description="sender address")
    smtp_host: str = Field("127.0.0.1", alias="EMAIL_SMTP_HOST", description="SMTP server")
    smtp_port: int = Field(25, alias="EMAIL_SMTP_PORT", ge=1, description="SMTP port")
    smtp_user: str | None = Field(None, alias="EMAIL_SMTP_USER", description="SMTP user name")
    smtp_password: str | None = Field(None, alias="EMAIL_SMTP_PASSWORD", repr=False, description="SMTP password")
    smtp_secure: Flag = Field(False, alias="EMAIL_SMTP_SECURE", description="TLS from the start (port 465)")
    smtp_starttls: Flag = Field(False, alias="EMAIL_SMTP_STARTTLS", description="upgrade with STARTTLS")
    email_new_sign_in_notice: Flag = Field(
        False,
        alias="EMAIL_NEW_SIGN_IN_NOTICE",
        description="mail the owner when their account is signed in to from a browser without its device cookie "
        "(not on the first sign-in; clients that keep no cookies trigger it every time)",
    )
    email_templates_path: Folder | None = Field(
        None,
        alias="EMAIL_TEMPLATES_PATH",
        description="a folder whose files replace the built-in mail templates by name (`<kind>.html`, "
        "`<kind>.txt`, `base.html`, `base.txt`)",
    )


class LinkSettings(BaseModel):
    """Emailed links"""

    password_reset_url_allow_list: Csv = Field(
        (), alias="PASSWORD_RESET_URL_ALLOW_LIST", description="other pages reset links may open (comma list)"
    )
    user_register_url_allow_list: Csv = Field(
        (), alias="USER_REGISTER_URL_ALLOW_LIST", description="other pages verification links may open"
    )
    magic_link_url_allow_list: Csv = Field(
        (), alias="MAGIC_LINK_URL_ALLOW_LIST", description="other pages magic links may open"
    )
    user_invite_url_allow_list: Csv = Field(
        (), alias="USER_INVITE_URL_ALLOW_LIST", description="other pages invitation links may open"
    )
    password_reset_token_ttl: Duration = Field(
        3600, alias="PASSWORD_RESET_TOKEN_TTL", description="lifetime of a reset link"
    )
    verification_token_ttl: Duration = Field(
        86400, alias="EMAIL_VERIFICATION_TOKEN_TTL", description="lifetime of a verification link"
    )
    magic_link_ttl: Duration = Field(15 * 60, alias="MAGIC_LINK_TTL", description="lifetime of a magic link")
    invite_token_ttl: Duration = Field(
        7 * 86400, alias="USER_INVITE_TOKEN_TTL", description="lifetime of an invitation"
    )


class SmsSettings(BaseModel):
    """SMS"""

    sms_transport: Literal["log", "twilio"] = Field(
        "log", alias="SMS_TRANSPORT", description="`log` writes each text to the log; `twilio` sends it"
    )
    sms_log_file: str | None = Field(
        None, alias="SMS_LOG_FILE", description="`log`: also append each text to this file as a JSON line"
    )
    twilio_account_sid: str | None = Field(None, alias="TWILIO_ACCOUNT_SID", description="Twilio account")
    twilio_auth_token: str | None = Field(None, alias="TWILIO_AUTH_TOKEN", repr=False, description="Twilio token")
    twilio_from: str | None = Field(None, alias="TWILIO_FROM", description="sending number")
    sms_code_requests_per_hour: int = Field(
        5, alias="SMS_CODE_REQUESTS_PER_HOUR", ge=1, description="codes one phone number may request per hour"
    )

    @model_validator(mode="after")
    def _twilio(self) -> SmsSettings:
        if self.sms_transport == "twilio":
            for name, value in (
                ("TWILIO_ACCOUNT_SID", self.twilio_account_sid),
                ("TWILIO_AUTH_TOKEN", self.twilio_auth_token),
                ("TWILIO_FROM", self.twilio_from),
            ):
                if not value:
                    raise ValueError(f"{name}: required when SMS_TRANSPORT=twilio")
        return self


class LimitSettings(BaseModel):
    """Limits"""

    login_stall_time: Milliseconds = Field(
        0.5,
        alias="LOGIN_STALL_TIME",
        description="sign-ins and mail-sending requests take at least this long, so timing hides which emails exist",
    )
    login_attempts_per_account: int = Field(
        10,
        alias="LOGIN_ATTEMPTS_PER_ACCOUNT",
        ge=0,
        description="failed sign-ins per email or phone, from any IP, before `REQUESTS_EXCEEDED` (`0`: off)",
    )
    login_attempts_window: Duration = Field(
        15 * 60, alias="LOGIN_ATTEMPTS_WINDOW", description="the window `LOGIN_ATTEMPTS_PER_ACCOUNT` counts over"
    )
    rate_limiter_enabled: Flag = Field(True, alias="RATE_LIMITER_ENABLED", description="limit requests per IP")
    rate_limiter_store: Literal["memory", "redis"] = Field(
        "memory", alias="RATE_LIMITER_STORE", description="`memory` (one process) or `redis` (shared)"
    )
    rate_limiter_redis: str | None = Field(None, alias="RATE_LIMITER_REDIS", description="`redis://` URL of the store")
    rate_limiter_points: int = Field(50, alias="RATE_LIMITER_POINTS", ge=1, description="requests allowed per duration")
    rate_limiter_duration: int = Field(1, alias="RATE_LIMITER_DURATION", ge=1, description="seconds")
    ip_trust_proxy: Networks = Field(
        (),
        alias="IP_TRUST_PROXY",
        description="`false`; a comma list of proxy addresses or CIDRs whose `X-Forwarded-For` hop is trusted "
        "(`true` = loopback and private ranges); the client is the rightmost address that is not a trusted proxy",
        json_schema_extra=shown("false"),
    )

    @model_validator(mode="after")
    def _store(self) -> LimitSettings:
        if self.rate_limiter_store == "redis" and not self.rate_limiter_redis:
            raise ValueError("RATE_LIMITER_REDIS: required when RATE_LIMITER_STORE=redis")
        return self


class MonitoringSettings(BaseModel):
    """Logs and metrics"""

    metrics_enabled: Flag = Field(
        False, alias="METRICS_ENABLED", description="serve Prometheus metrics on `GET /metrics` (404 otherwise)"
    )
    log_format: Annotated[Literal["text", "json"], Stripped] = Field(
        "text",
        alias="LOG_FORMAT",
        description="`text`, or `json`: one object per line with the request's `X-Request-Id`",
    )


def _development(data: dict[str, Any]) -> bool:
    return data.get("env") != "production"


class GraphQLSettings(BaseModel):
    """GraphQL and HTTP"""

    graphiql: Flag = Field(
        default_factory=_development,
        alias="GRAPHIQL",
        description="serve GraphiQL on GET /graphql",
        json_schema_extra=shown("`true`; `false` when `ENV=production`"),
    )
    graphql_introspection: Flag = Field(
        default_factory=_development,
        alias="GRAPHQL_INTROSPECTION",
        description="answer introspection queries",
        json_schema_extra=shown("`true`; `false` when `ENV=production`"),
    )
    graphql_max_depth: int = Field(10, alias="GRAPHQL_MAX_DEPTH", ge=2, description="deepest query accepted")
    graphql_max_aliases: int = Field(30, alias="GRAPHQL_MAX_ALIASES", ge=0, description="most aliases in a request")
    graphql_max_auth_operations: int = Field(
        1,
        alias="GRAPHQL_MAX_AUTH_OPERATIONS",
        ge=1,
        description="credential-checking mutations in one request (alias batching cannot multiply guesses)",
    )
    cors_origin: Csv = Field(
        (),
        alias="CORS_ORIGIN",
        description="comma list of origins allowed by CORS; entries must be full origins, `scheme://host[:port]` "
        "(`*`, `true`, `null` and bare hostnames stop start-up)",
    )

    @field_validator("cors_origin")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return cors_origins(value)


class PageSettings(BaseModel):
    """Pages"""

    pages_templates_path: Folder | None = Field(
        None,
        alias="PAGES_TEMPLATES_PATH",
        description="a folder whose files replace the built-in templates of the `/auth/pages/` pages by name "
        "(`base.html`, `reset_password.html`, ...)",
    )


class ProviderSettings(BaseModel):
    """Sign-in providers"""

    auth_disable_default: Flag = Field(
        False, alias="AUTH_DISABLE_DEFAULT", description="turn email/password sign-in off"
    )
    social_providers: Annotated[tuple[SocialProvider, ...], NoDecode] = Field(
        (),
        alias="AUTH_PROVIDERS",
        description="comma list of OAuth / OpenID Connect providers, each set by `AUTH_<NAME>_*` below",
    )

    @field_validator("social_providers", mode="before")
    @classmethod
    def _provider_role(cls, value: Any, info: ValidationInfo) -> Any:
        # A provider's accounts get DEFAULT_ROLE unless AUTH_<NAME>_DEFAULT_ROLE says otherwise.
        if isinstance(value, list | tuple) and "default_role" in info.data:
            return [{"DEFAULT_ROLE": info.data["default_role"], **p} if isinstance(p, dict) else p for p in value]
        return value


@dataclass(frozen=True)
class CookieSettings:
    name: str
    secure: bool
    same_site: str
    domain: str | None


class Settings(
    PageSettings,
    ProviderSettings,
    GraphQLSettings,
    MonitoringSettings,
    LimitSettings,
    SmsSettings,
    LinkSettings,
    MailSettings,
    PasswordSettings,
    AccountSettings,
    TokenSettings,
    ServerSettings,  # validated first
    BaseSettings,
):
    model_config = SettingsConfigDict(
        case_sensitive=True,
        env_ignore_empty=True,  # an empty variable means its default, as if unset
        extra="ignore",
        frozen=True,
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, Environment(settings_cls, process_environment()))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | Config | None = None, **overrides: Any) -> Settings:
        """Read every setting from `environ` (default: the process environment over `.env`).

        `overrides` (field names) replace the values read, unchecked; tests use them.
        """
        if isinstance(environ, Config):
            environ = {**environ.file_values, **environ.environ}
        environ = process_environment() if environ is None else environ
        unknown = set(overrides) - set(cls.model_fields) - {"refresh_cookie", "session_cookie"}
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        try:
            settings = cls.model_validate(Environment(cls, environ)())
        except ValidationError as exc:
            raise ConfigError(explain(exc, environ, cls, SocialProvider)) from None
        return settings.model_copy(update=overrides) if overrides else settings

    @cached_property
    def refresh_cookie(self) -> CookieSettings:
        return CookieSettings(
            self.refresh_token_cookie_name,
            self.refresh_token_cookie_secure,
            self.refresh_token_cookie_same_site,
            self.refresh_token_cookie_domain,
        )

    @cached_property
    def session_cookie(self) -> CookieSettings:
        return CookieSettings(
            self.session_cookie_name,
            self.session_cookie_secure,
            self.session_cookie_same_site,
            self.session_cookie_domain,
        )

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def issuer(self) -> str:
        return self.public_url.rstrip("/")

    @property
    def public_origin(self) -> str:
        """PUBLIC_URL's origin, the one our own pages post from."""
        scheme, _, rest = self.issuer.partition("://")
        authority = rest.split("/", 1)[0]
        return parse_origin(f"{scheme}://{authority}") or f"{scheme}://{authority}".lower()

    @property
    def allowed_origins(self) -> frozenset[str]:
        """Origins whose requests may carry our cookies: PUBLIC_URL's and CORS_ORIGIN's."""
        return frozenset({self.public_origin, *self.cors_origin})

    @property
    def tortoise_orm(self) -> dict[str, Any]:
        """The ORM's configuration for serving: every wait on the database bounded."""
        return tortoise_config(self.database_url, timeout=self.database_timeout)


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


async def _keep_session_state(connection: object) -> None:
    """asyncpg's pool `reset`: nothing to undo (see tortoise_config)."""


def tortoise_config(database_url: str, timeout: float | None = None) -> dict[str, Any]:
    """Tortoise's configuration for `database_url`. With `timeout` (seconds), no request waits
    on the database for longer: without it, a PostgreSQL host that goes silent (a partition,
    not a refused connection) holds every request that touches it until TCP gives up, many
    minutes later. Options written in the URL's query win. Commands that may run long
    (migrations, pruning) pass no timeout."""
    connection: str | dict[str, Any] = database_url
    if timeout is not None:
        connection = expand_db_url(database_url)
        credentials: dict[str, Any] = connection["credentials"]
        if connection["engine"] == "tortoise.backends.asyncpg":
            credentials.setdefault("timeout", timeout)  # asyncpg: establishing a connection
            # asyncpg: each statement, BEGIN and COMMIT included (the URL gives it as text).
            credentials["command_timeout"] = float(credentials.get("command_timeout", timeout))
            # asyncpg's default reset is a round trip (UNLISTEN, RESET ALL, ...) on every return
            # of a connection to the pool, so one query cost two. The app sets no session state
            # on pool connections (it LISTENs on a connection of its own); an open transaction
            # is still rolled back by asyncpg before this runs.
            credentials.setdefault("reset", _keep_session_state)
        elif connection["engine"] == "tortoise.backends.sqlite":
            # Every option becomes a PRAGMA: how long a write waits for another's lock.
            credentials.setdefault("busy_timeout", round(timeout * 1000))
    return {
        "connections": {"default": connection},
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


def __getattr__(name: str) -> Any:
    # `TORTOISE_ORM` is what the `tortoise` command line (makemigrations / migrate) looks up,
    # via [tool.tortoise] in pyproject; read DATABASE_URL only when it asks, not at import.
    if name == "TORTOISE_ORM":
        default = Settings.model_fields["database_url"].default
        return tortoise_config(process_environment().get("DATABASE_URL") or default)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
