"""Emailed links carry their token only to allowed places: every URL from a request is
checked, then rebuilt from its parsed parts (app/auth/links.py). Read from the real mail."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.message import Message
from typing import Any

import pytest

from app.models import Role, User
from tests.conftest import BASE_URL, CREATE_USER, Api, Outbox, codes, html_of, make_settings, running_app, text_of

ALLOW = "https://app.example.com/reset,https://app.example.com/account/"

# Each must be INVALID_PAYLOAD, and no mail leaves.
REFUSED = [
    # whitespace and control characters: urlsplit drops \n, \r and \t, and the query was never
    # compared, so these used to pass and put a second link into the mail
    "https://app.example.com/reset?x=1\nBackup link: https://evil.test/r?x=1&y=",
    "https://app.example.com/reset?x=1\r\nBackup link: https://evil.test/r",
    "https://app.example.com/reset?x=1\tBackup",
    "https://app.example.com/reset?x=1 Backup link: https://evil.test/r",
    "https://app.example.com/re\nset",
    " https://app.example.com/reset",
    "https://app.example.com/reset\n",
    "https://app.example.com/reset?x=\u2028https://evil.test/",
    "https://app.example.com/reset?x=\u00a0https://evil.test/",
    "https://app.example.com/reset?x=\u200b",
    "https://app.example.com/reset?x=\x00",
    "https://app.example.com/reset?x=\x7f",
    "https://app.example.com/reset?x=<a href=https://evil.test>",
    'https://app.example.com/reset?x="',
    "https://app.example.com/reset?x=%zz",
    # someone else's host, port or scheme
    "https://app.example.com@evil.test/reset",
    "https://user:pw@app.example.com/reset",
    "https://app.example.com\\@evil.test/reset",
    "https://app.example.com\\reset",
    "https://app.example.com.evil.test/reset",
    "https://evil.test/reset",
    "https://app.example.com:8443/reset",
    "https://app.example.com:99999/reset",
    "http://app.example.com/reset",
    "javascript:alert(1)//https://app.example.com/reset",
    "javascript://app.example.com/reset?%0aalert(1)",
    "data:text/html,https://app.example.com/reset",
    "//app.example.com/reset",
    "https:app.example.com/reset",
    "https:///app.example.com/reset",
    "https://[::1/reset",
    # paths: an entry without a trailing / is exact; one with it allows sub-paths only
    "https://app.example.com/reset-evil",
    "https://app.example.com/reset/x",
    "https://app.example.com/RESET",
    "https://app.example.com/account",
    "https://app.example.com/account-evil",
    "https://app.example.com/account/\\evil.test",
    "https://app.example.com/account/../admin",
    "https://app.example.com/account/%2e%2E/admin",
    "https://app.example.com/account/..%2fadmin",
    # overlong
    "https://app.example.com/reset?x=" + "a" * 2100,
]

# (given, the link the mail must hold with {t} for the token)
ACCEPTED = [
    ("https://app.example.com/reset", "https://app.example.com/reset?token={t}"),
    ("https://APP.Example.com:443/reset", "https://app.example.com/reset?token={t}"),
    # encoded characters are fine in a query: they stay encoded
    (
        "https://app.example.com/reset?next=%0aBackup%20link",
        "https://app.example.com/reset?next=%0ABackup+link&token={t}",
    ),
    (
        "https://app.example.com/reset?lang=pt&x=%E2%80%A8",
        "https://app.example.com/reset?lang=pt&x=%E2%80%A8&token={t}",
    ),
    # a token in the given URL never stands in for ours
    ("https://app.example.com/reset?token=attacker&lang=pt", "https://app.example.com/reset?lang=pt&token={t}"),
    # the token goes into the query, before the fragment
    ("https://app.example.com/reset#/step-2", "https://app.example.com/reset?token={t}#/step-2"),
    ("https://app.example.com/account/", "https://app.example.com/account/?token={t}"),
    ("https://app.example.com/account/reset", "https://app.example.com/account/reset?token={t}"),
    # this server's own pages are always allowed
    ("http://127.0.0.1:8000/auth/pages/reset-password", "http://127.0.0.1:8000/auth/pages/reset-password?token={t}"),
]

Send = Callable[[Api, str | None, int], Awaitable[tuple[dict[str, Any], str]]]


@dataclass(frozen=True)
class Kind:
    """One kind of emailed link: its allow-list variable and how to ask for the mail."""

    name: str
    allow_list_variable: str
    send: Send  # (api, url, n) -> (GraphQL answer, the address the mail goes to)
    default_page: str
    env: tuple[tuple[str, str], ...] = ()


async def _reset(api: Api, url: str | None, n: int) -> tuple[dict[str, Any], str]:
    query = "mutation($email: String!, $url: String) { auth_password_request(email: $email, reset_url: $url) }"
    return await api.gql(query, {"email": "ana@example.com", "url": url}), "ana@example.com"


async def _magic(api: Api, url: str | None, n: int) -> tuple[dict[str, Any], str]:
    query = "mutation($email: String!, $url: String) { auth_magic_link_request(email: $email, redirect_url: $url) }"
    return await api.gql(query, {"email": "ana@example.com", "url": url}), "ana@example.com"


async def _register(api: Api, url: str | None, n: int) -> tuple[dict[str, Any], str]:
    query = """mutation($email: String!, $url: String) {
      users_register(email: $email, password: "correct horse battery", first_name: "Mallory", last_name: "Evil",
                     verification_url: $url)
    }"""
    return await api.gql(query, {"email": f"new{n}@example.com", "url": url}), f"new{n}@example.com"


async def _invite(api: Api, url: str | None, n: int) -> tuple[dict[str, Any], str]:
    await User.filter(email="ana@example.com").update(role=Role.admin)
    admin = (await api.login())["access_token"]
    query = "mutation($email: String!, $url: String) { users_invite(email: $email, invite_url: $url) }"
    return await api.gql(query, {"email": f"new{n}@example.com", "url": url}, token=admin), f"new{n}@example.com"


VERIFY = (("EMAIL_VERIFICATION", "true"),)
KINDS = [
    Kind("reset", "PASSWORD_RESET_URL_ALLOW_LIST", _reset, "/auth/pages/reset-password"),
    Kind("magic_link", "MAGIC_LINK_URL_ALLOW_LIST", _magic, "/auth/pages/magic-link"),
    Kind("register", "USER_REGISTER_URL_ALLOW_LIST", _register, "/auth/pages/verify-email", VERIFY),
    Kind("invite", "USER_INVITE_URL_ALLOW_LIST", _invite, "/auth/pages/accept-invite"),
]


@asynccontextmanager
async def mail_app(smtp_server: Any, **env: str) -> AsyncIterator[Api]:
    smtp = {"EMAIL_TRANSPORT": "smtp", "EMAIL_SMTP_HOST": "127.0.0.1", "EMAIL_SMTP_PORT": str(smtp_server.port)}
    settings = make_settings(**smtp, **env)
    async with running_app(settings) as api:
        yield api


def body(message: Message) -> str:
    return text_of(message) + html_of(message)


def the_link(message: Message, public_url: str = BASE_URL) -> tuple[str, str]:
    """(the one URL in the mail besides PUBLIC_URL's in the footer, its token), after checking
    that the HTML part carries that same URL, escaped, in its links."""
    text = text_of(message)
    urls = [url for url in re.findall(r"[a-z]+://\S+", text) if url != public_url]
    assert len(urls) == 1, text
    token = re.search(r"[?&]token=([A-Za-z0-9_\-]+)", urls[0])
    assert token, urls[0]
    hrefs = set(re.findall(r'href="([^"]*)"', html_of(message))) - {public_url}
    assert hrefs == {html.escape(urls[0])}, hrefs
    return urls[0], token.group(1)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
async def test_hostile_urls_are_invalid_payload_and_send_nothing(kind: Kind, smtp_server: Any) -> None:
    outbox: Outbox = smtp_server.handler
    async with mail_app(smtp_server, **{kind.allow_list_variable: ALLOW}, **dict(kind.env)) as api:
        await api.signup()
        outbox.clear()
        for n, url in enumerate(REFUSED):
            result, _ = await kind.send(api, url, n)
            assert codes(result) == ["INVALID_PAYLOAD"], url
        assert outbox.messages == []
        assert await User.all().count() == 1


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
async def test_the_mail_holds_the_link_rebuilt_from_the_allowed_url(kind: Kind, smtp_server: Any) -> None:
    outbox: Outbox = smtp_server.handler
    async with mail_app(smtp_server, **{kind.allow_list_variable: ALLOW}, **dict(kind.env)) as api:
        await api.signup()
        cases = [*ACCEPTED, (None, "http://127.0.0.1:8000" + kind.default_page + "?token={t}")]
        for n, (url, expected) in enumerate(cases):
            outbox.clear()
            await api.services.counters.reset()  # ten mails to one address: past its mail budget
            result, to = await kind.send(api, url, n)
            assert result.get("errors") is None, (url, result)
            [message] = outbox.to(to)
            link, token = the_link(message)
            assert link == expected.format(t=token), url
            # Nothing else from the request is in the mail (names included).
            rest = text_of(message).replace(link, "") + html_of(message).replace(html.escape(link), "")
            assert not {"Mallory", "Evil", "attacker", "Backup", "step-2", "app.example.com"} & set(
                re.findall(r"[\w.\-]+", rest)
            ), rest


async def test_sign_up_mails_never_repeat_names_from_the_request(smtp_server: Any) -> None:
    outbox: Outbox = smtp_server.handler
    hostile = "Mallory https://evil.test/r?token="
    register = """mutation($email: String!, $name: String!) {
      users_register(email: $email, password: "correct horse battery", first_name: $name, last_name: $name)
    }"""
    async with mail_app(smtp_server, EMAIL_VERIFICATION="true") as api:
        outbox.clear()
        created = await api.gql(
            CREATE_USER, {"email": "ana@example.com", "password": "correct horse battery", "name": hostile}
        )
        assert created.get("errors") is None, created
        # a new address (verification mail) and a taken one ("taken" mail)
        for email in ("bo@example.com", "ana@example.com"):
            assert await api.gql(register, {"email": email, "name": hostile}) == {"data": {"users_register": True}}
        assert len(outbox.messages) == 3
        for message in outbox.messages:
            assert "Mallory" not in body(message) and "evil.test" not in body(message)
            assert "Mallory" not in str(message["Subject"])


async def test_default_links_use_public_url_as_configured(smtp_server: Any) -> None:
    outbox: Outbox = smtp_server.handler
    async with mail_app(smtp_server, PUBLIC_URL="http://auth_server:8000/auth-api/") as api:
        await api.signup()
        outbox.clear()
        result, to = await _reset(api, None, 0)
        assert result == {"data": {"auth_password_request": True}}
        link, token = the_link(outbox.to(to)[0], "http://auth_server:8000/auth-api")
        assert link == f"http://auth_server:8000/auth-api/auth/pages/reset-password?token={token}"
        # Any page under PUBLIC_URL is allowed; the host alone, outside its path, is not.
        result, _ = await _reset(api, "http://auth_server:8000/auth-api/app/reset", 1)
        assert result.get("errors") is None
        result, _ = await _reset(api, "http://auth_server:8000/elsewhere", 2)
        assert codes(result) == ["INVALID_PAYLOAD"]
