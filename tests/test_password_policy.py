"""Passwords people actually choose (NIST SP 800-63B): common ones, ones built from the
account's own email or name, and breached ones are refused, on every path that sets one."""

from __future__ import annotations

import hashlib
import logging
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from starlette.config import Config

from app.config import ConfigError, Settings
from app.models import Purpose, Role, Status, User
from app.services import one_time
from tests.conftest import CREATE_USER, LOGIN, Api, Outbox, codes, csrf, make_settings, running_app

REGISTER = """mutation($email: String!, $password: String!, $first: String, $last: String) {
  users_register(email: $email, password: $password, first_name: $first, last_name: $last) }"""
RESET = "mutation($token: String!, $password: String!) { auth_password_reset(token: $token, password: $password) }"
CHANGE = """mutation($password: String!, $new: String!) {
  users_me_password_update(password: $password, new_password: $new) }"""
ACCEPT = "mutation($token: String!, $password: String!) { users_invite_accept(token: $token, password: $password) }"
STRONG = "correct horse battery"


def _refused(result: dict[str, Any], why: str) -> None:
    assert codes(result) == ["INVALID_PAYLOAD"], result
    assert result["errors"][0]["message"].startswith(why), result


async def test_common_passwords_are_refused_at_sign_up(api: Api) -> None:
    for password in ("password", "12345678", "qwertyuiop", "iloveyou2", "P@ssw0rd!"):
        result = await api.gql(CREATE_USER, {"email": "ana@example.com", "password": password})
        _refused(result, "This password is too common.")
    result = await api.gql(CREATE_USER, {"email": "ana@example.com", "password": "aaaaaaaaaaaa"})
    _refused(result, "This password is too easy to guess.")
    assert await User.filter(email="ana@example.com").count() == 0
    await api.signup(password=STRONG)


async def test_passwords_built_from_the_email_or_name_are_refused(api: Api) -> None:
    # Each is fine for someone else: only the account's own details make it guessable.
    email = "zephyrine.quist@example.com"
    for password in (email, "zephyrinequist", "quistzephyrine"):
        _refused(
            await api.gql(CREATE_USER, {"email": email, "password": password}),
            "This password is built from your email or name.",
        )
    await api.signup("other@example.com", "zephyrinequist")
    named = {"email": "ana@example.com", "password": "quistorpzephyrine", "name": "Zephyrine Quistorp"}
    _refused(await api.gql(CREATE_USER, named), "This password is built from your email or name.")
    assert not await User.filter(email__in=[email, "ana@example.com"]).exists()


async def test_users_register_refuses_weak_passwords_for_taken_and_free_emails(api: Api) -> None:
    await api.signup()
    for email in ("ana@example.com", "new@example.com"):
        _refused(await api.gql(REGISTER, {"email": email, "password": "password1"}), "This password is too common.")
    names = {"email": "bo@example.com", "password": "guinevereokafor", "first": "Guinevere", "last": "Okafor"}
    _refused(await api.gql(REGISTER, names), "This password is built from your email or name.")
    assert not await User.filter(email__in=["new@example.com", "bo@example.com"]).exists()


async def test_a_reset_refuses_weak_passwords_and_keeps_the_token(api: Api) -> None:
    await api.signup("zephyrine.quist@example.com")
    user = await User.get(email="zephyrine.quist@example.com")
    token = await one_time.issue(user, Purpose.password_reset, 3600)
    _refused(await api.gql(RESET, {"token": token, "password": "password"}), "This password is too common.")
    _refused(
        await api.gql(RESET, {"token": token, "password": "quistzephyrine"}),
        "This password is built from your email or name.",
    )
    rest = await api.http.post("/auth/password/reset", json={"token": token, "password": "12345678"})
    assert rest.status_code == 400
    assert rest.json()["errors"][0]["extensions"]["code"] == "INVALID_PAYLOAD"
    field = csrf(await api.http.get("/auth/pages/reset-password", params={"token": token}))
    page = await api.http.post("/auth/pages/reset-password", data={"token": token, "password": "12345678", **field})
    assert page.status_code == 400 and "This password is too common." in page.text
    # Nothing was spent: the same link still sets a good password.
    assert (await api.gql(RESET, {"token": token, "password": "a brand new passphrase"}))["data"] == {
        "auth_password_reset": True
    }
    await api.login("zephyrine.quist@example.com", "a brand new passphrase")


async def test_a_password_change_refuses_weak_passwords(api: Api) -> None:
    await api.signup("zephyrine.quist@example.com")
    token = (await api.login("zephyrine.quist@example.com"))["access_token"]
    for weak, why in (("password", "This password is too common."), ("zephyrinequist", "This password is built")):
        _refused(await api.gql(CHANGE, {"password": STRONG, "new": weak}, token=token), why)
    await api.login("zephyrine.quist@example.com", STRONG)


async def test_an_invitation_refuses_weak_passwords_and_stays_usable(api: Api, outbox: Outbox) -> None:
    user = await User.create(email="zephyrine.quist@example.com", role=Role.user, status=Status.invited)
    token = await one_time.issue(user, Purpose.invite, 3600)
    _refused(await api.gql(ACCEPT, {"token": token, "password": "iloveyou2"}), "This password is too common.")
    _refused(
        await api.gql(ACCEPT, {"token": token, "password": "zephyrinequist"}),
        "This password is built from your email or name.",
    )
    field = csrf(await api.http.get("/auth/pages/accept-invite", params={"token": token}))
    page = await api.http.post("/auth/pages/accept-invite", data={"token": token, "password": "password", **field})
    assert page.status_code == 400 and "too common" in page.text
    assert (await api.gql(ACCEPT, {"token": token, "password": "my own passphrase"}))["data"] == {
        "users_invite_accept": True
    }


async def test_the_create_admin_command_holds_the_admin_to_the_same_rule(tmp_path: Any) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "DATABASE_URL": f"sqlite://{tmp_path}/cli.db", "SECRET": "c" * 40}
    env.pop("TEST_DATABASE_URL", None)
    root = Path(__file__).resolve().parents[1]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "app", *args], cwd=root, env=env, capture_output=True, text=True)

    assert run("migrate").returncode == 0
    weak = run("create-admin", "--email", "root@example.com", "--password", "admin123")
    assert weak.returncode == 2
    assert "admin not created: This password is too common." in weak.stderr
    strong = run("create-admin", "--email", "root@example.com", "--password", "ci admin password")
    assert strong.returncode == 0 and "admin root@example.com created" in strong.stdout
    # The README's example admin password passes too.
    assert "already exists" in run("create-admin", "--email", "x@example.com", "--password", "admin pass 1234").stdout


async def test_strength_zero_turns_the_estimate_off() -> None:
    async with running_app(make_settings(PASSWORD_MIN_STRENGTH="0")) as api:
        await api.signup(password="password")
        await api.login(password="password")


def test_password_min_strength_out_of_range_stops_start_up() -> None:
    for bad in ("5", "-1", "strong"):
        with pytest.raises(ConfigError, match="PASSWORD_MIN_STRENGTH"):
            Settings.from_env(Config(environ={"SECRET": "s" * 40, "PASSWORD_MIN_STRENGTH": bad}))
    settings = Settings.from_env(Config(environ={"SECRET": "s" * 40}))
    assert (settings.password_min_strength, settings.password_breach_check) == (2, False)


async def test_long_passwords_are_scored_on_their_start(api: Api) -> None:
    # zxcvbn's cost grows quickly with length: only the first 72 characters are scored.
    await api.signup(password="correct horse battery staple " * 8)
    _refused(await api.gql(CREATE_USER, {"email": "b@example.com", "password": "a" * 256}), "This password is too")


# --- the Pwned Passwords range API, played by a local server -------------------------------


class _PwnedPasswords(BaseHTTPRequestHandler):
    breached: set[str] = set()  # full SHA-1 hex digests, upper case
    requests: list[tuple[str, str | None]] = []
    status = 200

    def do_GET(self) -> None:  # noqa: N802 - http.server hook
        type(self).requests.append((self.path, self.headers.get("Add-Padding")))
        prefix = self.path.rsplit("/", 1)[-1].upper()
        lines = [f"{h[5:]}:{3861493}" for h in self.breached if h.startswith(prefix)]
        lines += [f"{i:035X}:0" for i in range(5)]  # padding
        body = "\r\n".join(lines).encode()
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class _ToLocal(httpx.AsyncBaseTransport):
    """Sends every outbound request to a local port instead, keeping path and headers."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.urls: list[str] = []
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(str(request.url))
        request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self.port)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
def pwned() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PwnedPasswords)
    _PwnedPasswords.requests, _PwnedPasswords.breached, _PwnedPasswords.status = [], set(), 200
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _sha1(password: str) -> str:
    return hashlib.sha1(password.encode()).hexdigest().upper()  # noqa: S324 - the API's own scheme


async def test_breached_passwords_are_refused_by_range_query(pwned: int) -> None:
    leaked = "Tr0ub4dor&3 but leaked"  # strong to zxcvbn, known from a breach
    _PwnedPasswords.breached = {_sha1(leaked)}
    transport = _ToLocal(pwned)
    async with running_app(make_settings(PASSWORD_BREACH_CHECK="true"), http_transport=transport) as api:
        _refused(
            await api.gql(CREATE_USER, {"email": "ana@example.com", "password": leaked}),
            "This password has appeared in a data breach.",
        )
        assert not await User.filter(email="ana@example.com").exists()
        await api.signup(password=STRONG)
    # k-anonymity: only the first 5 hex digits of the SHA-1 left, with padding asked for.
    assert transport.urls[0] == f"https://api.pwnedpasswords.com/range/{_sha1(leaked)[:5]}"
    assert _PwnedPasswords.requests[0] == (f"/range/{_sha1(leaked)[:5]}", "true")
    assert len(transport.urls) == 2


async def test_weak_passwords_are_refused_before_asking_the_breach_api(pwned: int) -> None:
    transport = _ToLocal(pwned)
    async with running_app(make_settings(PASSWORD_BREACH_CHECK="true"), http_transport=transport) as api:
        _refused(await api.gql(CREATE_USER, {"email": "a@example.com", "password": "password"}), "This password is")
    assert transport.urls == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("down", ["unreachable", "error"])
async def test_when_the_breach_api_cannot_answer_sign_up_works_and_it_is_logged(
    down: str, pwned: int, caplog: pytest.LogCaptureFixture
) -> None:
    password = "a passphrase nobody knows"
    port = _closed_port() if down == "unreachable" else pwned
    _PwnedPasswords.status = 503
    settings = make_settings(PASSWORD_BREACH_CHECK="true")
    with caplog.at_level(logging.WARNING, logger="app.passwords"):
        async with running_app(settings, http_transport=_ToLocal(port)) as api:
            await api.signup(password=password)
            assert codes(await api.gql(LOGIN, {"email": "ana@example.com", "password": password})) == []
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "app.passwords")
    assert "breach check skipped" in logged
    # Never the password, nor its hash (not even the prefix sent).
    digest = _sha1(password)
    for secret in (password, digest, digest.lower(), digest[:5]):
        assert secret not in logged
    assert not re.search(r"[0-9A-Fa-f]{5,}", logged.replace("Pwned", ""))
