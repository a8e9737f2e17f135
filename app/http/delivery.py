"""Token delivery, for GraphQL and REST alike: the three modes of Directus's auth API.

- `json`: both tokens in the body.
- `cookie`: the access token in the body, the refresh token in an httpOnly cookie.
- `session`: neither token in the body; the session token in an httpOnly cookie.

`expires` is in the body in every mode, and every sign-in also sets the device cookie.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from starlette.requests import HTTPConnection
from starlette.responses import Response

from app.config import Settings
from app.errors import InvalidPayload
from app.http import cookies
from app.http.caller import cookie_credential
from app.services.sessions import IssuedTokens


class Mode(Enum):
    """GraphQL's `auth_mode` (app/schema/types.py exposes this enum) and REST's `"mode"`."""

    json = "json"
    cookie = "cookie"
    session = "session"

    @classmethod
    def named(cls, value: str | None) -> Mode:
        """REST's `"mode"`: absent is json; anything else but the three is a bad payload."""
        try:
            return cls(value or "json")
        except ValueError:
            raise InvalidPayload('"mode" must be json, cookie or session.') from None


@dataclass(frozen=True)
class TokenBody:
    """What the caller reads in the answer: `auth_tokens` in GraphQL, `data` in REST."""

    access_token: str | None
    expires: int
    refresh_token: str | None

    def as_json(self) -> dict[str, object]:
        return {"access_token": self.access_token, "expires": self.expires, "refresh_token": self.refresh_token}


# The cookies an answer sets, with their values.
Jar = tuple[tuple[cookies.Cookie, str], ...]


def deliver(
    issued: IssuedTokens, mode: Mode, settings: Settings, *, presented_in: Mode | None = None
) -> tuple[TokenBody, Jar]:
    """The body and the cookies for `issued`. `presented_in` is the mode whose cookie held
    the refresh token that was swapped (see `presented_refresh_token`): the successor goes
    back into that cookie whatever `mode` asked, so that asking for `json` cannot lift an
    httpOnly cookie's token into reach of the page's scripts."""
    mode = presented_in or mode
    jar: list[tuple[cookies.Cookie, str]] = []
    if mode is Mode.cookie:
        body = TokenBody(issued.access_token, issued.expires, None)
        jar.append((cookies.refresh(settings), issued.refresh_token))
    elif mode is Mode.session:
        body = TokenBody(None, issued.expires, None)
        jar.append((cookies.session(settings), issued.refresh_token))
    else:
        body = TokenBody(issued.access_token, issued.expires, issued.refresh_token)
    if issued.device is not None:  # a sign-in, not a refresh
        jar.append((cookies.device(settings), issued.device))
    return body, tuple(jar)


def set_cookies(response: Response, jar: Jar) -> None:
    for cookie, value in jar:
        cookie.set(response, value)


def clear_session_cookies(response: Response, settings: Settings) -> None:
    """Logout: neither the refresh nor the session cookie stays behind."""
    cookies.refresh(settings).clear(response)
    cookies.session(settings).clear(response)


@dataclass(frozen=True)
class Presented:
    token: str | None
    cookie: Mode | None  # the mode whose cookie held it; None when it came in the body


def presented_refresh_token(
    conn: HTTPConnection, settings: Settings, mode: Mode | None, given: str | None
) -> Presented:
    """The refresh token from the arguments, else from the mode's cookie (`session` mode's
    cookie for `session`, the refresh cookie for the other two), read as a credential:
    only on requests that pass the CSRF rule of app/http/caller.py."""
    if given:
        return Presented(given, None)
    cookie_mode = Mode.session if mode is Mode.session else Mode.cookie
    name = settings.session_cookie.name if cookie_mode is Mode.session else settings.refresh_cookie.name
    return Presented(cookie_credential(conn, settings, name), cookie_mode)
