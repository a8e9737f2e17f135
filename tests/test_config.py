from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import app.config
from app.config import ConfigError, Settings, parse_duration
from app.main import create_app
from app.settings_doc import README, updated
from tests.conftest import make_settings

SECRET = "s" * 40
ROOT = Path(__file__).resolve().parents[1]


def settings(**environ: str) -> Settings:
    return Settings.from_env({"SECRET": SECRET, **environ})


def test_defaults_follow_the_contract() -> None:
    s = settings()
    assert (s.access_token_ttl, s.refresh_token_ttl, s.refresh_token_reuse_interval) == (900, 7 * 86400, 10)
    assert (s.access_token_alg, s.access_token_audience) == ("HS256", "authenticated")
    assert (s.refresh_cookie.name, s.session_cookie.name, s.refresh_cookie.same_site) == (
        "refresh_token",
        "session_token",
        "lax",
    )
    assert s.refresh_cookie.secure is False  # plain-http PUBLIC_URL
    assert (s.password_min_length, s.password_max_length, s.argon2_memory_cost, s.argon2_time_cost) == (
        8,
        256,
        19456,
        2,
    )
    assert (s.public_registration, s.email_verification, s.default_role) == (True, False, "user")
    assert (s.graphql_max_depth, s.graphql_max_aliases, s.graphql_max_auth_operations) == (10, 30, 1)
    assert s.login_stall_time == 0.5 and s.database_url == "sqlite://./data/app.db"
    assert s.password_hash_concurrency >= 1


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ACCESS_TOKEN_TTL", "banana"),
        ("REFRESH_TOKEN_TTL", "7 weeks"),
        ("PORT", "eighty"),
        ("PUBLIC_REGISTRATION", "maybe"),
        ("ACCESS_TOKEN_ALG", "none"),
        ("DEFAULT_ROLE", "root"),
        ("PASSWORD_HASH_CONCURRENCY", "0"),
        ("PUBLIC_URL", "ftp://x"),
        ("SECRET", "short"),
        ("ENV", "staging"),
        ("LOG_LEVEL", "loud"),
        ("LOGIN_STALL_TIME", "half"),
        ("LOGIN_ATTEMPTS_WINDOW", "-1"),
        ("SESSION_COOKIE_SAME_SITE", "sideways"),
        ("SESSION_COOKIE_SECURE", "perhaps"),
        ("PASSWORD_HASH", "md5"),
        ("PASSWORD_ARGON2_MEMORY_COST", "4"),
        ("EMAIL_TRANSPORT", "pigeon"),
        ("EMAIL_SMTP_PORT", "0"),
        ("SMS_TRANSPORT", "fax"),
        ("RATE_LIMITER_STORE", "disk"),
        ("RATE_LIMITER_POINTS", "0"),
        ("GRAPHQL_MAX_DEPTH", "1"),
        ("LOGIN_ATTEMPTS_PER_ACCOUNT", "-1"),
        ("PASSWORD_MIN_STRENGTH", "5"),
        ("PASSWORD_BREACH_CHECK", "sometimes"),
    ],
)
def test_a_bad_value_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        settings(**{name: value})


def test_asymmetric_algorithms_need_a_key() -> None:
    with pytest.raises(ConfigError, match="ACCESS_TOKEN_PRIVATE_KEY"):
        settings(ACCESS_TOKEN_ALG="ES256")


def test_production_requires_a_secret_and_turns_graphiql_off() -> None:
    with pytest.raises(ConfigError, match="SECRET"):
        Settings.from_env({"ENV": "production"})
    s = settings(ENV="production", PUBLIC_URL="https://auth.example.com")
    assert (s.graphiql, s.graphql_introspection, s.refresh_cookie.secure) == (False, False, True)


def test_durations() -> None:
    assert [parse_duration(v) for v in ("15m", "7d", "3600", "10s", "2h", "500ms")] == [
        900,
        604800,
        3600,
        10,
        7200,
        0.5,
    ]


def test_directus_log_levels_are_understood() -> None:
    assert [settings(LOG_LEVEL=v).log_level for v in ("warn", "trace", "fatal", "info")] == [
        "warning",
        "debug",
        "critical",
        "info",
    ]


def test_same_site_none_needs_secure_cookies() -> None:
    with pytest.raises(ConfigError, match="REFRESH_TOKEN_COOKIE_SAME_SITE"):
        settings(REFRESH_TOKEN_COOKIE_SAME_SITE="none")
    s = settings(REFRESH_TOKEN_COOKIE_SAME_SITE="none", PUBLIC_URL="https://auth.example.com")
    assert (s.refresh_cookie.same_site, s.refresh_cookie.secure) == ("none", True)


def test_the_error_names_the_variable_and_the_value() -> None:
    with pytest.raises(ConfigError) as error:
        settings(ACCESS_TOKEN_TTL="banana")
    assert str(error.value).startswith("ACCESS_TOKEN_TTL: invalid value 'banana'")


def test_a_bad_value_stops_start_up_with_its_name() -> None:
    environ = {**os.environ, "SECRET": SECRET, "ACCESS_TOKEN_TTL": "banana"}
    result = subprocess.run(
        [sys.executable, "-m", "app", "migrate"], capture_output=True, text=True, cwd=ROOT, env=environ
    )
    assert result.returncode == 2
    assert result.stderr.startswith("configuration error: ACCESS_TOKEN_TTL: invalid value 'banana'")


def test_secrets_are_not_repeated_in_errors() -> None:
    with pytest.raises(ConfigError) as error:
        settings(SECRET="hunter2")
    assert str(error.value) == "SECRET: must be at least 32 characters"


def test_production_without_a_secret_reports_only_that() -> None:
    # GRAPHIQL's and the cookies' defaults depend on ENV; they must not add noise.
    with pytest.raises(ConfigError) as error:
        Settings.from_env({"ENV": "production"})
    assert str(error.value) == "SECRET: required when ENV=production"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"PASSWORD_MIN_LENGTH": "20", "PASSWORD_MAX_LENGTH": "10"}, "PASSWORD_MIN_LENGTH: larger than"),
        ({"SMS_TRANSPORT": "twilio", "TWILIO_ACCOUNT_SID": "AC1", "TWILIO_FROM": "+1"}, "TWILIO_AUTH_TOKEN: required"),
        ({"RATE_LIMITER_STORE": "redis"}, "RATE_LIMITER_REDIS: required when RATE_LIMITER_STORE=redis"),
        ({"SESSION_COOKIE_SAME_SITE": "none"}, "SESSION_COOKIE_SAME_SITE: none needs SESSION_COOKIE_SECURE=true"),
        ({"ACCESS_TOKEN_ALG": "RS256"}, "ACCESS_TOKEN_PRIVATE_KEY: required when ACCESS_TOKEN_ALG=RS256"),
    ],
)
def test_rules_across_variables(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        settings(**environ)


def test_values_are_read_as_directus_writes_them() -> None:
    s = settings(
        ACCESS_TOKEN_TTL="500ms",
        REFRESH_TOKEN_TTL="3600",
        PUBLIC_REGISTRATION="off",
        EMAIL_VERIFICATION="YES",
        ACCESS_TOKEN_QUERY_PARAM="1",
        CORS_ORIGIN=" https://a.example , https://b.example,",
        LOGIN_STALL_TIME="250",
        DEFAULT_ROLE=" guest ",
        PUBLIC_URL="https://auth.example.com/",
        SESSION_COOKIE_SECURE="false",
        SESSION_COOKIE_DOMAIN="example.com",
        SESSION_COOKIE_SAME_SITE="strict",
        EMAIL_FROM="",  # empty: the default
    )
    assert (s.access_token_ttl, s.refresh_token_ttl) == (0.5, 3600)
    assert (s.public_registration, s.email_verification, s.access_token_query_param) == (False, True, True)
    assert s.cors_origin == ("https://a.example", "https://b.example")
    assert (s.login_stall_time, s.default_role, s.public_url) == (0.25, "guest", "https://auth.example.com")
    assert (s.refresh_cookie.secure, s.refresh_cookie.domain) == (True, None)
    assert s.session_cookie == type(s.session_cookie)("session_token", False, "strict", "example.com")
    assert s.email_from == "no-reply@example.com"


def test_hashing_threads_default_to_cores_minus_one() -> None:
    assert settings().password_hash_concurrency == max(1, (os.cpu_count() or 2) - 1)


def test_social_providers_are_read_from_their_own_variables() -> None:
    s = settings(
        DEFAULT_ROLE="guest",
        AUTH_PROVIDERS="Google, github,auth0,company",
        AUTH_GOOGLE_CLIENT_ID="g-id",
        AUTH_GOOGLE_CLIENT_SECRET="g-secret",
        AUTH_GITHUB_CLIENT_ID="gh-id",
        AUTH_GITHUB_DEFAULT_ROLE="user",
        AUTH_GITHUB_ALLOW_PUBLIC_REGISTRATION="true",
        AUTH_AUTH0_CLIENT_ID="a0-id",
        AUTH_AUTH0_DOMAIN="tenant.eu.auth0.com",
        AUTH_COMPANY_DRIVER="oauth2",
        AUTH_COMPANY_CLIENT_ID="c-id",
        AUTH_COMPANY_AUTHORIZE_URL="https://sso.example/authorize",
        AUTH_COMPANY_ACCESS_URL="https://sso.example/token",
        AUTH_COMPANY_PROFILE_URL="https://sso.example/me",
        AUTH_COMPANY_REDIRECT_ALLOW_LIST="https://app.example/a,https://app.example/b",
    )
    google, github, auth0, company = s.social_providers
    assert (google.name, google.driver, google.issuer_url, google.scope) == (
        "google",
        "openid",
        "https://accounts.google.com",
        "openid email profile",
    )
    assert (google.client_secret, google.default_role, google.label) == ("g-secret", "guest", "Google")
    assert "g-secret" not in repr(google)
    assert (github.driver, github.identifier_key, github.default_role, github.allow_public_registration) == (
        "oauth2",
        "id",
        "user",
        True,
    )
    assert auth0.issuer_url == "https://tenant.eu.auth0.com/"
    assert (company.scope, company.identifier_key, company.label) == ("email", "email", "Company")
    assert company.redirect_allow_list == ("https://app.example/a", "https://app.example/b")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"AUTH_PROVIDERS": "corp", "AUTH_CORP_DRIVER": "saml", "AUTH_CORP_CLIENT_ID": "x"}, "AUTH_CORP_DRIVER"),
        ({"AUTH_PROVIDERS": "google"}, "AUTH_GOOGLE_CLIENT_ID: required"),
        (
            {"AUTH_PROVIDERS": "auth0", "AUTH_AUTH0_CLIENT_ID": "x"},
            "AUTH_AUTH0_ISSUER_URL: required .*AUTH_AUTH0_DOMAIN",
        ),
        (
            {"AUTH_PROVIDERS": "corp", "AUTH_CORP_DRIVER": "oauth2", "AUTH_CORP_CLIENT_ID": "x"},
            "AUTH_CORP_AUTHORIZE_URL",
        ),
        (
            {"AUTH_PROVIDERS": "google", "AUTH_GOOGLE_CLIENT_ID": "x", "AUTH_GOOGLE_DEFAULT_ROLE": "root"},
            "AUTH_GOOGLE_DEFAULT_ROLE: invalid value 'root'",
        ),
    ],
)
def test_a_bad_provider_names_its_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        settings(**environ)


def test_dotenv_is_read_and_the_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text(f"SECRET={SECRET}\nACCESS_TOKEN_TTL=1h\nREFRESH_TOKEN_TTL=1d\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REFRESH_TOKEN_TTL", "2d")
    s = Settings.from_env()
    assert (s.access_token_ttl, s.refresh_token_ttl) == (3600, 2 * 86400)


def test_the_tortoise_command_line_reads_database_url_when_it_asks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite://./data/elsewhere.db")
    assert app.config.TORTOISE_ORM["connections"]["default"] == "sqlite://./data/elsewhere.db"
    monkeypatch.delenv("DATABASE_URL")
    assert app.config.TORTOISE_ORM["connections"]["default"] == "sqlite://./data/app.db"


def test_database_timeout_bounds_every_wait_on_the_database() -> None:
    def credentials(url: str, **environ: str) -> dict[str, object]:
        connection = settings(DATABASE_URL=url, **environ).tortoise_orm["connections"]["default"]
        return dict(connection["credentials"])

    postgres = credentials("postgres://u@db:5432/auth", DATABASE_TIMEOUT="2s")
    assert (postgres["timeout"], postgres["command_timeout"]) == (2.0, 2.0)
    assert credentials("postgres://u@db/auth?command_timeout=30")["command_timeout"] == 30.0  # the URL wins
    assert credentials("sqlite:///tmp/auth.db", DATABASE_TIMEOUT="500ms")["busy_timeout"] == 500
    # The command line (migrations) waits as long as it takes.
    assert app.config.tortoise_config("postgres://u@db/auth")["connections"]["default"] == "postgres://u@db/auth"


def test_make_settings_takes_variables_and_fields() -> None:
    s = make_settings(ACCESS_TOKEN_TTL="1h", EMAIL_VERIFICATION=True, login_stall_time=0.25)
    assert (s.access_token_ttl, s.email_verification, s.login_stall_time) == (3600, True, 0.25)
    with pytest.raises(TypeError, match="login_stal_time"):
        make_settings(login_stal_time=0)


def test_every_setting_has_a_variable_and_a_description() -> None:
    for name, field in Settings.model_fields.items():
        assert field.alias and field.alias.isupper(), name
        assert field.description, name


def test_readme_settings_table_is_current() -> None:
    text = README.read_text()
    assert updated(text) == text, "run `make docs`"


@pytest.mark.parametrize(
    "value",
    ["*", "true", "null", "app.example.com", "https://app.example.com/path", "https://*.example.com", "https://"],
)
def test_cors_origin_entries_must_be_full_origins(value: str) -> None:
    with pytest.raises(ConfigError, match=r"^CORS_ORIGIN: .*entries must be full origins, scheme://host\[:port\]"):
        settings(CORS_ORIGIN=f"https://app.example.com,{value}")
    # Settings built in code (overrides are not validated) meet the same rule in create_app.
    with pytest.raises(ConfigError, match="CORS_ORIGIN"):
        create_app(settings().model_copy(update={"cors_origin": (value,)}))


def test_cors_origins_are_kept_as_browsers_send_them() -> None:
    s = settings(CORS_ORIGIN="https://App.Example.com:443/, http://localhost:3000")
    assert s.cors_origin == ("https://app.example.com", "http://localhost:3000")
