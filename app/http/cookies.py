"""The three delivery modes (json, cookie, session) and every cookie rule, in one place."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from app.auth import devices
from app.config import CookieSettings, Settings
from app.http.caller import cookie_request_allowed
from app.services.sessions import IssuedTokens

MODES = ("json", "cookie", "session")


@dataclass(frozen=True)
class DeliveredTokens:
    access_token: str | None
    expires: int
    refresh_token: str | None

    def as_json(self) -> dict[str, object]:
        return {"access_token": self.access_token, "expires": self.expires, "refresh_token": self.refresh_token}


def deliver(response: Response, settings: Settings, issued: IssuedTokens, mode: str) -> DeliveredTokens:
    """Set the mode's cookie on `response` and return what goes in the body."""
    set_mode_cookie(response, settings, issued, mode)
    return body_for(issued, mode)


def body_for(issued: IssuedTokens, mode: str) -> DeliveredTokens:
    """json: both tokens in the body; cookie: the refresh token goes in an httpOnly cookie;
    session: a session token goes in an httpOnly cookie and neither token in the body."""
    if mode == "cookie":
        return DeliveredTokens(issued.access_token, issued.expires, None)
    if mode == "session":
        return DeliveredTokens(None, issued.expires, None)
    return DeliveredTokens(issued.access_token, issued.expires, issued.refresh_token)


def set_mode_cookie(response: Response, settings: Settings, issued: IssuedTokens, mode: str) -> None:
    if mode == "cookie":
        _set(response, settings.refresh_cookie, issued.refresh_token, settings)
    elif mode == "session":
        _set(response, settings.session_cookie, issued.refresh_token, settings)
    set_device_cookie(response, settings, issued)


def set_device_cookie(response: Response, settings: Settings, issued: IssuedTokens) -> None:
    """After a sign-in, in every mode: the device cookie (app/auth/devices.py) only moves
    this client onto a guessing budget of its own, so it is no credential and needs no
    mode. It travels like the refresh cookie (its Secure, SameSite and domain)."""
    if issued.device is None:
        return
    cookie = settings.refresh_cookie
    response.set_cookie(
        devices.COOKIE_NAME,
        issued.device,
        max_age=devices.MAX_AGE,
        path="/",
        domain=cookie.domain,
        secure=cookie.secure,
        httponly=True,
        samesite=cookie.same_site,  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class Presented:
    token: str | None
    reply_mode: str  # how the successor goes back


def presented(request: Request, settings: Settings, mode: str, given: str | None) -> Presented:
    """The token from the arguments, else from the mode's cookie. Cookies count only on
    requests that pass the CSRF rules (JSON content type, known Origin). A token read from
    a cookie goes back in that cookie whatever the mode asked: only a caller that sent the
    token in the body gets its successor in the body, so asking for `mode: json` cannot
    lift an httpOnly cookie's token into reach of the page's scripts."""
    if given:
        return Presented(given, mode)
    cookie_mode = "session" if mode == "session" else "cookie"
    if not cookie_request_allowed(request, settings):
        return Presented(None, cookie_mode)
    name = settings.session_cookie.name if cookie_mode == "session" else settings.refresh_cookie.name
    return Presented(request.cookies.get(name), cookie_mode)


def presented_refresh_token(request: Request, settings: Settings, mode: str, given: str | None) -> str | None:
    return presented(request, settings, mode, given).token


def clear(response: Response, settings: Settings) -> None:
    for cookie in (settings.refresh_cookie, settings.session_cookie):
        response.delete_cookie(
            cookie.name,
            path="/",
            domain=cookie.domain,
            secure=cookie.secure,
            httponly=True,
            samesite=cookie.same_site,  # type: ignore[arg-type]
        )


def _set(response: Response, cookie: CookieSettings, value: str, settings: Settings) -> None:
    response.set_cookie(
        cookie.name,
        value,
        max_age=int(settings.refresh_token_ttl),
        path="/",
        domain=cookie.domain,
        secure=cookie.secure,
        httponly=True,
        samesite=cookie.same_site,  # type: ignore[arg-type]
    )
