"""Plain server-rendered pages that emailed links open by default.

GET only shows a form; the state change happens on POST, so mail scanners that follow
links cannot consume a token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from html import escape

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from app.config import Settings
from app.errors import AppError, InvalidPayload, from_exception
from app.http import cookies, csrf
from app.services.client import ClientInfo
from app.services.container import Services

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}}
input,button{{font:inherit;padding:.5rem;width:100%;box-sizing:border-box;margin:.25rem 0}}
.error{{color:#b00020}}</style></head>
<body><h1>{title}</h1>{body}</body></html>"""

_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "X-Frame-Options": "DENY",
    # Never the path (links carry ?token=) in a Referer, yet the Origin header still goes
    # with our own form posts: under no-referrer browsers send `Origin: null`, which the
    # CSRF check refuses.
    "Referrer-Policy": "strict-origin",
    "Cache-Control": "no-store",
}


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=escape(title), body=body), status_code=status, headers=_HEADERS)


def form_page(request: Request, settings: Settings, title: str, fields: str, status: int = 200) -> HTMLResponse:
    """A page holding one POST form, with this browser's CSRF token (hidden field + cookie)."""
    token = csrf.token_for(request, settings)
    response = page(title, f'<form method="post">{csrf.hidden_field(token)}{fields}</form>', status)
    csrf.remember(response, settings, token)
    return response


async def posted_form(request: Request, settings: Settings) -> FormData:
    """The POSTed form of one of our pages; Forbidden when it was not sent from it."""
    try:
        form = await request.form()
    except (HTTPException, MultiPartException, ValueError):
        raise InvalidPayload("Send the form of this page.") from None
    csrf.check(request, form, settings)
    return form


def _token_field(token: str) -> str:
    return f'<input type="hidden" name="token" value="{escape(token, quote=True)}">'


Action = Callable[[Request, Services, str, str, Response], Awaitable[None]]


@dataclass(frozen=True)
class TokenPage:
    """GET: a form holding the link's token (and a password field when one is chosen);
    POST: the action, then a result page, or the error's code on a page."""

    title: str
    button: str
    password_label: str | None
    action: Action
    done_title: str
    done_text: str

    async def handle(self, request: Request) -> Response:
        services: Services = request.app.state.services
        if request.method == "GET":
            token = request.query_params.get("token", "")
            if not token:
                return page(self.title, '<p class="error">This link is incomplete.</p>', 400)
            return form_page(request, services.settings, self.title, self._fields(token, services.settings))
        response = page(self.done_title, f"<p>{escape(self.done_text)}</p>")
        try:
            form = await posted_form(request, services.settings)
            await self.action(request, services, str(form.get("token", "")), str(form.get("password", "")), response)
        except Exception as exc:  # noqa: BLE001 - shown as a page with the code
            return _failure(self.title, from_exception(exc))
        return response

    def _fields(self, token: str, settings: Settings) -> str:
        password = ""
        if self.password_label:
            password = (
                f'<label>{escape(self.password_label)} <input type="password" name="password" '
                f'autocomplete="new-password" minlength="{settings.password_min_length}" required></label>'
            )
        return f"{_token_field(token)}{password}<button>{escape(self.button)}</button>"


async def _reset(request: Request, services: Services, token: str, password: str, response: Response) -> None:
    await services.users.reset_password(token, password)


async def _verify(request: Request, services: Services, token: str, password: str, response: Response) -> None:
    await services.users.verify_email(token)


async def _accept(request: Request, services: Services, token: str, password: str, response: Response) -> None:
    await services.admin.accept_invite(token, password, ClientInfo.of(request))


async def _magic(request: Request, services: Services, token: str, password: str, response: Response) -> None:
    # Without a redirect_url the link lands here: signing in sets the session cookie.
    issued = await services.auth.magic_link_login(token, ClientInfo.of(request))
    cookies.set_mode_cookie(response, services.settings, issued, "session")


reset_password = TokenPage(
    "Choose a new password", "Set password", "New password", _reset,
    "Password changed", "Your password has been changed. You can sign in now.",
)  # fmt: skip
verify_email = TokenPage(
    "Verify your email", "Confirm my email address", None, _verify,
    "Email verified", "Thank you, your email address is verified.",
)  # fmt: skip
accept_invite = TokenPage(
    "Accept your invitation", "Create my account", "Choose a password", _accept,
    "Welcome", "Your account is ready. You can sign in now.",
)  # fmt: skip
magic_link = TokenPage(
    "Sign in", "Sign me in", None, _magic,
    "Signed in", "You are signed in. You can close this page.",
)  # fmt: skip


def _failure(title: str, error: AppError) -> HTMLResponse:
    body = f'<p class="error">{escape(error.message)}</p><p>Code: <code>{escape(error.code)}</code></p>'
    return page(title, body, error.status)


routes = [
    Route("/auth/pages/reset-password", reset_password.handle, methods=["GET", "POST"]),
    Route("/auth/pages/verify-email", verify_email.handle, methods=["GET", "POST"]),
    Route("/auth/pages/accept-invite", accept_invite.handle, methods=["GET", "POST"]),
    Route("/auth/pages/magic-link", magic_link.handle, methods=["GET", "POST"]),
]
