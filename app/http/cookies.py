"""Every cookie we set, declared here once with all of its flags. Nothing else calls
`set_cookie` or `delete_cookie`: a handler asks for a declaration, then `set` or `clear`.

| cookie | what it holds | path | lifetime |
| --- | --- | --- | --- |
| refresh (REFRESH_TOKEN_COOKIE_NAME) | the refresh token, mode `cookie` | / | REFRESH_TOKEN_TTL |
| session (SESSION_COOKIE_NAME) | the session token, mode `session` | / | REFRESH_TOKEN_TTL |
| `auth_device` | device entries for guessing budgets (app/auth/devices.py) | / | a year |
| `auth_flow` | the sealed OAuth flow (state, nonce, PKCE verifier) | /auth/login | 10 minutes |
| `auth_otp` | the ticket of a social sign-in waiting for its second factor | /auth/pages/otp | 5 minutes |
| `pages_csrf` | the double-submit token of the page forms (app/http/csrf.py) | / | the browser session |

All are httpOnly: no script of ours reads a cookie.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from starlette.requests import HTTPConnection
from starlette.responses import Response

from app.config import CookieSettings, Settings

SameSite = Literal["lax", "strict", "none"]

DEVICE = "auth_device"
OAUTH_FLOW = "auth_flow"
OTP_TICKET = "auth_otp"
DEVICE_MAX_AGE = 365 * 86400


@dataclass(frozen=True)
class Cookie:
    name: str
    path: str
    max_age: int | None  # None: until the browser closes
    secure: bool
    same_site: SameSite
    domain: str | None = None
    http_only: bool = True

    def set(self, response: Response, value: str) -> None:
        response.set_cookie(
            self.name,
            value,
            max_age=self.max_age,
            path=self.path,
            domain=self.domain,
            secure=self.secure,
            httponly=self.http_only,
            samesite=self.same_site,
        )

    def clear(self, response: Response) -> None:
        response.delete_cookie(
            self.name,
            path=self.path,
            domain=self.domain,
            secure=self.secure,
            httponly=self.http_only,
            samesite=self.same_site,
        )

    def read(self, conn: HTTPConnection) -> str | None:
        """The value the browser sent. Session and refresh cookies are credentials: read
        them through app/http/caller.py, which applies the CSRF rule."""
        return conn.cookies.get(self.name)


def refresh(settings: Settings) -> Cookie:
    return _session_lived(settings.refresh_cookie, settings)


def session(settings: Settings) -> Cookie:
    return _session_lived(settings.session_cookie, settings)


def device(settings: Settings) -> Cookie:
    """Set after every sign-in, in every mode: it only moves this client onto a guessing
    budget of its own, so it is no credential and needs no mode. It travels like the
    refresh cookie (its Secure, SameSite and domain)."""
    cookie = settings.refresh_cookie
    return Cookie(DEVICE, "/", DEVICE_MAX_AGE, cookie.secure, _same_site(cookie.same_site), cookie.domain)


def oauth_flow(settings: Settings) -> Cookie:
    # Lax: it must come along on the provider's top-level redirect back to us.
    return Cookie(OAUTH_FLOW, "/auth/login", 600, settings.refresh_cookie.secure, "lax")


def otp_ticket(settings: Settings) -> Cookie:
    return Cookie(OTP_TICKET, "/auth/pages/otp", 300, settings.refresh_cookie.secure, "strict")


def page_csrf(settings: Settings) -> Cookie:
    """Strict, so a forged cross-site post arrives without it; `__Host-` prefixed under
    https so that a sibling subdomain cannot plant its own value."""
    https = settings.public_origin.startswith("https://")
    return Cookie("__Host-pages_csrf" if https else "pages_csrf", "/", None, https, "strict")


def _session_lived(cookie: CookieSettings, settings: Settings) -> Cookie:
    max_age = int(settings.refresh_token_ttl)
    return Cookie(cookie.name, "/", max_age, cookie.secure, _same_site(cookie.same_site), cookie.domain)


def _same_site(value: str) -> SameSite:
    return cast(SameSite, value)  # config.py admits only these three
