"""Every mail is multipart/alternative (plain text, then HTML) written from templates that
EMAIL_TEMPLATES_PATH may replace by name. Read from the real SMTP server."""

from __future__ import annotations

import html
import logging
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from app.config import ConfigError
from app.main import create_app
from app.models import Role, Status, User
from tests.conftest import TEST_SECRET, Api, Outbox, another_client, html_of, make_settings, running_app, text_of

# A product name that HTML must escape, and a PUBLIC_URL of our own.
PRODUCT = "Acme <Sign-in> & Co"
PUBLIC_URL = "https://auth.example.com/id"
ROOT = Path(__file__).resolve().parents[1]


@asynccontextmanager
async def mail_app(smtp_server: Any, **env: str) -> AsyncIterator[Api]:
    smtp = {"EMAIL_TRANSPORT": "smtp", "EMAIL_SMTP_HOST": "127.0.0.1", "EMAIL_SMTP_PORT": str(smtp_server.port)}
    settings = make_settings(**smtp, **{"MFA_ISSUER": PRODUCT, "PUBLIC_URL": PUBLIC_URL, **env})
    async with running_app(settings) as api:
        await api.signup()
        await User.filter(email="ana@example.com").update(role=Role.admin, email_verified=True, status=Status.active)
        smtp_server.handler.clear()
        yield api


async def _reset(api: Api) -> str:
    query = 'mutation { auth_password_request(email: "ana@example.com") }'
    assert (await api.gql(query))["data"] == {"auth_password_request": True}
    return "ana@example.com"


async def _magic(api: Api) -> str:
    query = 'mutation { auth_magic_link_request(email: "ana@example.com") }'
    assert (await api.gql(query))["data"] == {"auth_magic_link_request": True}
    return "ana@example.com"


REGISTER = 'mutation($e: String!) { users_register(email: $e, password: "correct horse battery") }'


async def _verify(api: Api) -> str:
    assert (await api.gql(REGISTER, {"e": "new@example.com"}))["data"] == {"users_register": True}
    return "new@example.com"


async def _taken(api: Api) -> str:
    assert (await api.gql(REGISTER, {"e": "ana@example.com"}))["data"] == {"users_register": True}
    return "ana@example.com"


async def _invite(api: Api) -> str:
    admin = (await api.login())["access_token"]
    query = 'mutation { users_invite(email: "new@example.com") }'
    assert (await api.gql(query, token=admin))["data"] == {"users_invite": True}
    return "new@example.com"


async def _new_sign_in(api: Api) -> str:
    await api.login()  # the first sign-in: no notice
    async with another_client(api) as elsewhere:
        await elsewhere.login()
    await api.services.mail_queue.drain()
    return "ana@example.com"


Send = Callable[[Api], Awaitable[str]]
# (kind, how to ask for it, where its link goes, its lifetime in words)
KINDS: list[tuple[str, Send, str, str | None]] = [
    ("password_reset", _reset, f"{PUBLIC_URL}/auth/pages/reset-password?token=", "1 hour"),
    ("magic_link", _magic, f"{PUBLIC_URL}/auth/pages/magic-link?token=", "15 minutes"),
    ("email_verification", _verify, f"{PUBLIC_URL}/auth/pages/verify-email?token=", "1 day"),
    ("invite", _invite, f"{PUBLIC_URL}/auth/pages/accept-invite?token=", "7 days"),
    ("account_exists", _taken, PUBLIC_URL, None),
    ("new_sign_in", _new_sign_in, PUBLIC_URL, None),
]


def _parts(message: Message) -> list[str]:
    return [part.get_content_type() for part in message.walk()]


def _hrefs(page: str) -> list[str]:
    return re.findall(r'href="([^"]*)"', page)


def _link_in_text(text: str, start: str) -> str:
    links = [url for url in re.findall(r"https?://\S+", text) if url.startswith(start)]
    assert links, text
    return links[0]


@pytest.mark.parametrize(("kind", "send", "start", "expiry"), KINDS, ids=[k[0] for k in KINDS])
async def test_each_mail_has_a_text_and_an_html_part_with_the_same_link(
    kind: str, send: Send, start: str, expiry: str | None, smtp_server: Any
) -> None:
    outbox: Outbox = smtp_server.handler
    async with mail_app(smtp_server, EMAIL_VERIFICATION="true", EMAIL_NEW_SIGN_IN_NOTICE="true") as api:
        [message] = outbox.to(await send(api))
    assert _parts(message) == ["multipart/alternative", "text/plain", "text/html"]
    text, page = text_of(message), html_of(message)
    link = _link_in_text(text, start)
    # The link: as a button and as visible text in the HTML, and plainly in the text part.
    assert [html.unescape(href) for href in _hrefs(page)].count(link) >= 2, page
    assert f">{html.escape(link, quote=False)}</a>" in page
    # The product name and PUBLIC_URL, escaped in the HTML and as they are in the text.
    assert html.escape(PRODUCT) in page and PRODUCT not in page
    assert f'href="{PUBLIC_URL}"' in page
    assert PRODUCT in text and PUBLIC_URL in text
    # Plain and accessible: a language, no remote images, a title.
    assert '<html lang="en">' in page and "<img" not in page and "<title>" in page
    for part in (text, page):
        assert re.search(r"If (it was not you|you did not|you do not)", part)  # what to do if you did not ask
        assert (f"expires in {expiry}" in part) if expiry else ("expires" not in part)


async def test_a_hostile_allowed_url_is_escaped_in_html_and_exact_in_text(smtp_server: Any) -> None:
    outbox: Outbox = smtp_server.handler
    # Allowed (its path is on the list); its query and fragment try to break out of `href`.
    url = "https://app.example.com/reset?next=/x&amp;y='1'#'onmouseover='alert(1)'&x=\"1\""
    hostile = url.replace('"', "%22")  # a raw `"` is refused outright; try the rest
    async with mail_app(smtp_server, PASSWORD_RESET_URL_ALLOW_LIST="https://app.example.com/reset") as api:
        query = 'mutation($u: String) { auth_password_request(email: "ana@example.com", reset_url: $u) }'
        assert (await api.gql(query, {"u": hostile}))["data"] == {"auth_password_request": True}
        [message] = outbox.to("ana@example.com")
    text, page = text_of(message), html_of(message)
    link = _link_in_text(text, "https://app.example.com/reset?")
    token = re.search(r"[?&]token=([A-Za-z0-9_\-]+)", link)
    assert token
    expected = f"https://app.example.com/reset?next=%2Fx&amp%3By=%271%27&token={token.group(1)}"
    assert link == expected + "#'onmouseover='alert(1)'&x=%221%22"
    hrefs = [href for href in _hrefs(page) if href != PUBLIC_URL]
    assert len(hrefs) == 2 and {html.unescape(href) for href in hrefs} == {link}, hrefs
    # Every `&` and quote escaped in the attribute, and no handler anywhere outside one.
    assert "&amp;token=" in hrefs[0] and "&amp;amp%3By=" in hrefs[0], hrefs[0]
    assert not re.search(r"&(?!amp;|#x27;|#39;)|'", hrefs[0]), hrefs[0]
    assert "'onmouseover" not in page and "'alert" not in page


async def test_an_override_folder_replaces_one_template_and_keeps_the_others(smtp_server: Any, tmp_path: Path) -> None:
    outbox: Outbox = smtp_server.handler
    # Extends the built-in layout, which the override folder does not have.
    (tmp_path / "password_reset.html").write_text(
        '{% extends "base.html" %}{% block intro %}<p>Our own words for {{ product }}.</p>{% endblock %}'
    )
    async with mail_app(smtp_server, EMAIL_TEMPLATES_PATH=str(tmp_path)) as api:
        [reset] = outbox.to(await _reset(api))
        outbox.clear()
        [magic] = outbox.to(await _magic(api))
    assert f"<p>Our own words for {html.escape(PRODUCT)}.</p>" in html_of(reset)
    link = _link_in_text(text_of(reset), f"{PUBLIC_URL}/auth/pages/reset-password?token=")
    assert f'href="{html.escape(link)}"' in html_of(reset)  # the built-in layout around it
    assert "Someone asked to reset the password" in text_of(reset)  # reset's text: built in
    assert "Our own words" not in html_of(magic) and "Someone asked for a link to sign in" in html_of(magic)
    assert reset["Subject"] == "Reset your password"


async def test_an_override_can_change_the_subject(smtp_server: Any, tmp_path: Path) -> None:
    outbox: Outbox = smtp_server.handler
    (tmp_path / "magic_link.txt").write_text("Sign in to   {{ product }}\nOpen {{ link }} within {{ expires_in }}.\n")
    async with mail_app(smtp_server, EMAIL_TEMPLATES_PATH=str(tmp_path)) as api:
        [message] = outbox.to(await _magic(api))
    assert message["Subject"] == f"Sign in to {PRODUCT}"
    expected = rf"Open {re.escape(PUBLIC_URL)}/auth/pages/magic-link\?token=\S+ within 15 minutes\.\r?\n"
    assert re.fullmatch(expected, text_of(message)), text_of(message)
    assert "<title>Sign in to Acme &lt;Sign-in&gt; &amp; Co</title>" in html_of(message)


def test_a_missing_templates_folder_is_refused_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="^EMAIL_TEMPLATES_PATH: invalid value .*: no such folder$"):
        make_settings(EMAIL_TEMPLATES_PATH=str(tmp_path / "nowhere"))
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="^EMAIL_TEMPLATES_PATH"):
        make_settings(EMAIL_TEMPLATES_PATH=str(tmp_path / "file"))


def test_a_missing_templates_folder_stops_start_up(tmp_path: Path) -> None:
    environ = {**os.environ, "SECRET": TEST_SECRET, "EMAIL_TEMPLATES_PATH": str(tmp_path / "nowhere")}
    result = subprocess.run(
        [sys.executable, "-m", "app", "migrate"], capture_output=True, text=True, cwd=ROOT, env=environ
    )
    assert result.returncode == 2
    assert result.stderr.startswith("configuration error: EMAIL_TEMPLATES_PATH: invalid value")


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("invite.html", "{% block intro %}", "TemplateSyntaxError"),
        ("invite.txt", "\nNo subject line: {{ link }}", "the first line of invite.txt (the subject) is empty"),
        ("invite.html", "<a href='{{ lnk }}'>", "'lnk' is undefined"),
    ],
)
def test_a_broken_override_stops_start_up_naming_the_variable(
    tmp_path: Path, name: str, content: str, reason: str
) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(ConfigError) as error:
        create_app(make_settings(EMAIL_TEMPLATES_PATH=str(tmp_path)))
    assert str(error.value).startswith("EMAIL_TEMPLATES_PATH: the invite mail:"), error.value
    assert reason in str(error.value)


async def test_the_log_transport_prints_the_text_part_only(caplog: pytest.LogCaptureFixture) -> None:
    async with running_app(make_settings(EMAIL_TRANSPORT="log")) as api:
        await api.signup()
        with caplog.at_level(logging.INFO, logger="app.mail"):
            await _magic(api)
    [record] = [r for r in caplog.records if r.name == "app.mail"]
    assert "/auth/pages/magic-link?token=" in record.getMessage()
    assert "<html" not in record.getMessage()


def test_the_log_transport_in_production_is_warned_about(caplog) -> None:  # type: ignore[no-untyped-def]
    from app.mail import LogMailer, mailer_for
    from tests.conftest import make_settings

    with caplog.at_level("WARNING", logger="app.mail"):
        assert isinstance(mailer_for(make_settings(ENV="production", EMAIL_TRANSPORT="log")), LogMailer)
    assert "EMAIL_TRANSPORT=log in production" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="app.mail"):
        mailer_for(make_settings(EMAIL_TRANSPORT="log"))
    assert caplog.text == ""
