"""The pages under /auth/pages/ are Jinja2 templates: accessible forms, codes in words, a
strict Content-Security-Policy with nothing inline, escaped values, overridable by name."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

from app.config import ConfigError
from app.errors import AppError
from app.http.templating import SENTENCES
from app.models import Purpose, Role, Status, User
from app.services import one_time
from tests.conftest import Api, csrf, make_settings

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = '"><script>alert(1)</script>'


def page_rules(response: httpx.Response) -> None:
    """What every page keeps to: its headers, one stylesheet and one script from our own
    files, nothing inline that the Content-Security-Policy would have to allow."""
    policy = response.headers["content-security-policy"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    for directive in ("default-src 'none'", "script-src 'self'", "style-src 'self'", "form-action 'self'"):
        assert directive in policy, policy
    assert "frame-ancestors 'none'" in policy and "base-uri 'none'" in policy
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "strict-origin"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    html = response.text
    assert html.startswith("<!doctype html>") and '<html lang="en">' in html
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert len(scripts) == 1 and re.fullmatch(r'<script src="[^"]*static/pages\.js\?v=\w+" defer>', scripts[0])
    assert re.search(r'<link rel="stylesheet" href="[^"]*static/pages\.css\?v=\w+">', html)
    assert "<style" not in html and not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers
    assert "javascript:" not in html
    for field in re.findall(r'<input id="([^"]+)"', html):
        assert f'<label for="{field}">' in html, field  # every visible input has its label


def _shown_error(response: httpx.Response, code: str) -> None:
    page_rules(response)
    alert = re.search(r'<div class="error" role="alert">(.*?)</div>', response.text, re.DOTALL)
    assert alert, response.text
    assert SENTENCES[code] in alert.group(1) and f"<code>{code}</code>" in alert.group(1)
    assert "<form" not in response.text


async def _invited(api: Api) -> str:
    user = await User.create(email="new@example.com", role=Role.user, status=Status.invited)
    return await one_time.issue(user, Purpose.invite, 3600)


async def test_the_password_pages_ask_for_a_new_password_of_the_configured_length(app_with: Any) -> None:
    async with app_with(PASSWORD_MIN_LENGTH="12") as api:
        for path in ("/auth/pages/reset-password", "/auth/pages/accept-invite"):
            form = await api.http.get(path, params={"token": "abc"})
            assert form.status_code == 200
            page_rules(form)
            html = form.text
            assert '<label for="password">' in html
            field = re.search(r'<input id="password"[^>]*>', html)
            assert field, html
            for attribute in ('type="password"', 'autocomplete="new-password"', 'minlength="12"', "required"):
                assert attribute in field.group(0), (path, attribute)
            assert "At least 12 characters." in html
            assert 'name="token" value="abc"' in html and csrf(form)


@pytest.mark.parametrize(
    ("path", "title", "button"),
    [
        ("/auth/pages/verify-email", "Verify your email", "Confirm my email address"),
        ("/auth/pages/magic-link", "Sign in", "Sign me in"),
    ],
)
async def test_the_confirmation_pages_hold_only_the_token(api: Api, path: str, title: str, button: str) -> None:
    form = await api.http.get(path, params={"token": "abc"})
    assert form.status_code == 200
    page_rules(form)
    assert f"<h1>{title}</h1>" in form.text and f'<button type="submit">{button}</button>' in form.text
    assert 'name="password"' not in form.text


async def test_the_second_factor_page_asks_for_a_one_time_code(api: Api) -> None:
    form = await api.http.get("/auth/pages/otp")
    page_rules(form)
    code = re.search(r'<input id="otp"[^>]*>', form.text)
    assert code and 'autocomplete="one-time-code"' in code.group(0) and 'inputmode="numeric"' in code.group(0)
    # A recovery code has letters: its own field, without the numeric keypad.
    recovery = re.search(r'<input id="recovery-code"[^>]*>', form.text)
    assert recovery and 'name="otp"' in recovery.group(0) and "inputmode" not in recovery.group(0)
    assert form.text.count(f'name="csrf_token" value="{csrf(form)["csrf_token"]}"') == 2
    wrong = await api.http.post("/auth/pages/otp", data={"otp": "123456", **csrf(form)})
    assert wrong.status_code == 401
    _shown_error(wrong, "INVALID_TOKEN")
    assert "<h1>Sign-in failed</h1>" in wrong.text


async def test_a_result_and_an_error_are_pages_too(api: Api) -> None:
    token = await _invited(api)
    form = await api.http.get("/auth/pages/accept-invite", params={"token": token})
    done = await api.http.post(
        "/auth/pages/accept-invite", data={"token": token, "password": "my own passphrase", **csrf(form)}
    )
    assert done.status_code == 200
    page_rules(done)
    assert "<h1>Welcome</h1>" in done.text and "<form" not in done.text
    again = await api.http.post(
        "/auth/pages/accept-invite", data={"token": token, "password": "my own passphrase", **csrf(form)}
    )
    assert again.status_code == 401
    _shown_error(again, "INVALID_TOKEN")
    # The error's own message is shown when it says more than the code.
    weak = await api.http.get("/auth/pages/reset-password", params={"token": "abc"})
    answer = await api.http.post("/auth/pages/reset-password", data={"token": "abc", "password": "x", **csrf(weak)})
    _shown_error(answer, "INVALID_PAYLOAD")


async def test_a_link_without_its_token_is_a_page_with_a_code(api: Api) -> None:
    for path in ("/auth/pages/reset-password", "/auth/pages/verify-email", "/auth/pages/magic-link"):
        incomplete = await api.http.get(path)
        assert incomplete.status_code == 400
        _shown_error(incomplete, "INVALID_PAYLOAD")
        assert "This link is incomplete." in incomplete.text


async def test_the_oauth_error_page(api: Api) -> None:
    unknown = await api.http.get("/auth/login/nope")
    assert unknown.status_code == 400
    _shown_error(unknown, "INVALID_PROVIDER")
    # Its files are found from there too.
    for href in re.findall(r'(?:href|src)="([^"]+)"', unknown.text):
        url = urljoin(str(unknown.url), href)
        assert url.startswith("http://127.0.0.1:8000/auth/pages/static/"), url
        assert (await api.http.get(url)).status_code == 200


async def test_a_hostile_token_is_escaped(api: Api) -> None:
    for path in ("/auth/pages/reset-password", "/auth/pages/verify-email", "/auth/pages/accept-invite"):
        form = await api.http.get(path, params={"token": HOSTILE})
        assert form.status_code == 200
        page_rules(form)  # still exactly one <script>, ours
        assert HOSTILE not in form.text and "<script>alert" not in form.text
        assert 'name="token" value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in form.text


async def test_an_override_folder_replaces_a_template_by_name(app_with: Any, tmp_path: Path) -> None:
    (tmp_path / "reset_password.html").write_text(
        '{% extends "base.html" %}{% block title %}Nouveau mot de passe{% endblock %}'
        '{% block content %}{% if done %}<p>Mot de passe changé.</p>{% else %}<form method="post">'
        '<input type="hidden" name="csrf_token" value="{{ csrf_token }}">'
        '<input type="hidden" name="token" value="{{ token }}"><label for="pw">Mot de passe</label>'
        '<input id="pw" type="password" name="password" autocomplete="new-password">'
        "<button>Valider</button></form>{% endif %}{% endblock %}"
    )
    async with app_with(PAGES_TEMPLATES_PATH=str(tmp_path)) as api:
        form = await api.http.get("/auth/pages/reset-password", params={"token": HOSTILE})
        assert form.status_code == 200
        page_rules(form)  # the built-in base.html around it
        assert "<h1>Nouveau mot de passe</h1>" in form.text and "Valider" in form.text
        assert HOSTILE not in form.text  # autoescaped in an override too
        # The other pages keep the built-in templates.
        other = await api.http.get("/auth/pages/verify-email", params={"token": "abc"})
        assert "Confirm my email address" in other.text
        # And the override's form works as the built-in one did.
        await api.signup()
        user = await User.get(email="ana@example.com")
        token = await one_time.issue(user, Purpose.password_reset, 3600)
        form = await api.http.get("/auth/pages/reset-password", params={"token": token})
        done = await api.http.post(
            "/auth/pages/reset-password", data={"token": token, "password": "a brand new passphrase", **csrf(form)}
        )
        assert done.status_code == 200 and "Mot de passe changé." in done.text
        await api.login(password="a brand new passphrase")


def test_a_missing_override_folder_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^PAGES_TEMPLATES_PATH: invalid value .*: no such folder"):
        make_settings(PAGES_TEMPLATES_PATH=str(tmp_path / "missing"))
    (tmp_path / "file.html").write_text("")
    with pytest.raises(ConfigError, match="PAGES_TEMPLATES_PATH"):
        make_settings(PAGES_TEMPLATES_PATH=str(tmp_path / "file.html"))


async def test_the_stylesheet_and_script_are_served_to_keep(api: Api) -> None:
    form = await api.http.get("/auth/pages/magic-link", params={"token": "abc"})
    links = dict(re.findall(r'(?:href|src)="([^"?]+)\?v=(\w+)"', form.text))
    assert set(links) == {"static/pages.css", "static/pages.js"}
    for path, content_type in (("static/pages.css", "text/css"), ("static/pages.js", "text/javascript")):
        served = await api.http.get(urljoin(str(form.url), f"{path}?v={links[path]}"))
        assert served.status_code == 200
        assert served.headers["content-type"].split(";")[0] == content_type
        assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert served.headers["x-content-type-options"] == "nosniff"
        assert served.content == (ROOT / "app" / path).read_bytes()
    assert (await api.http.get("/auth/pages/static/nothing.css")).status_code == 404
    assert (await api.http.get("/auth/pages/static/../config.py")).status_code == 404


def test_every_code_has_a_sentence() -> None:
    def codes(cls: type[AppError]) -> set[str]:
        return {cls.code}.union(*(codes(sub) for sub in cls.__subclasses__()))

    assert codes(AppError) <= set(SENTENCES)


_RUN_SCRIPT = """
const [href, hasForm] = JSON.parse(process.argv[1]);
let replaced = null;
globalThis.window = {
  location: { href },
  history: { state: null, replaceState: (state, title, url) => { replaced = url; } },
};
globalThis.document = { querySelector: () => (hasForm ? {} : null) };
require("vm").runInThisContext(require("fs").readFileSync(process.argv[2], "utf8"));
console.log(JSON.stringify(replaced));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the page script")
@pytest.mark.parametrize(
    ("href", "has_form", "address"),
    [
        ("http://h/auth/pages/magic-link?token=abc", True, "/auth/pages/magic-link"),
        ("http://h/auth/pages/reset-password?a=1&token=abc&b=2#x", True, "/auth/pages/reset-password?a=1&b=2#x"),
        ("http://h/auth/pages/reset-password?token=abc", False, None),  # a page that did not keep it
        ("http://h/auth/pages/otp", True, None),
    ],
)
def test_the_script_takes_the_token_out_of_the_address_bar(href: str, has_form: bool, address: str | None) -> None:
    node = shutil.which("node")
    assert node
    script = ROOT / "app" / "static" / "pages.js"
    result = subprocess.run(  # noqa: S603 - our own script, under node
        [node, "-e", _RUN_SCRIPT, json.dumps([href, has_form]), str(script)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout) == address
