"""The three delivery modes (json, cookie, session) and every cookie rule, in one place."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from app.auth.viewer import cookie_request_allowed
from app.config import CookieSettings, Settings
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


def presented_refresh_token(request: Request, settings: Settings, mode: str, given: str | None) -> str | None:
    """The token from the arguments, else from the mode's cookie. Cookies count only on
    requests that pass the CSRF rules (JSON content type, known Origin)."""
    if given:
        return given
    if not cookie_request_allowed(request, settings):
        return None
    name = settings.session_cookie.name if mode == "session" else settings.refresh_cookie.name
    return request.cookies.get(name)


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
