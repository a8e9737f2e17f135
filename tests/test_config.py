from __future__ import annotations

import pytest
from starlette.config import Config

from app.config import ConfigError, Settings, parse_duration

SECRET = "s" * 40


def settings(**environ: str) -> Settings:
    return Settings.from_env(Config(environ={"SECRET": SECRET, **environ}))


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
        Settings.from_env(Config(environ={"ENV": "production"}))
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
