"""Plain server-rendered pages that emailed links open by default.

GET only shows a form; the state change happens on POST, so mail scanners that follow
links cannot consume a token. Each page is a template (app/http/templating.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount

from app.config import Settings
from app.errors import AppError, InvalidOtp, InvalidPayload
from app.http import csrf
from app.http.caller import client_of
from app.http.delivery import Mode, deliver, set_cookies
from app.http.failures import Answered
from app.http.templating import STATIC_PATH, ShownError, StaticAssets, render
from app.services.container import Services


def form_page(request: Request, settings: Settings, template: str, status: int = 200, **context: Any) -> Response:
    """A page holding a POST form, with this browser's CSRF token (hidden field + cookie)."""
    token = csrf.token_for(request, settings)
    response = render(request, settings, template, status, csrf_token=token, **context)
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


Action = Callable[[Request, Services, FormData, Response], Awaitable[None]]


@dataclass(frozen=True)
class TokenPage:
    """GET: a form holding the link's token (and a password field when the template asks
    for one); POST: the action, then the result, or the error's code. One template shows
    the form (`done` false) and the result (`done` true)."""

    template: str
    action: Action

    async def handle(self, request: Request) -> Response:
        services: Services = request.app.state.services
        if request.method == "GET":
            token = request.query_params.get("token", "")
            if not token:
                return error_page(request, services.settings, self.template, InvalidPayload("This link is incomplete."))
            return form_page(request, services.settings, self.template, token=token, done=False)
        response = render(request, services.settings, self.template, done=True)
        form = await posted_form(request, services.settings)
        try:
            await self.action(request, services, form, response)
        except InvalidOtp as error:
            # The link is not spent by a wrong or missing code: ask for one on the same form.
            token = str(form.get("token", ""))
            shown = ShownError.of(error)
            return form_page(
                request, services.settings, self.template, 401, token=token, done=False, otp=True, error=shown
            )
        return response

    def failure(self, request: Request, error: AppError) -> Response:
        """How app/http/failures.py answers this page's errors: the page, with the code."""
        return error_page(request, request.app.state.services.settings, self.template, error)

    def route(self, path: str) -> Answered:
        return Answered(path, self.handle, methods=["GET", "POST"], failure=self.failure)


def _field(form: FormData, name: str) -> str:
    return str(form.get(name, ""))


async def _reset(request: Request, services: Services, form: FormData, response: Response) -> None:
    await services.users.reset_password(_field(form, "token"), _field(form, "password"))


async def _verify(request: Request, services: Services, form: FormData, response: Response) -> None:
    await services.users.verify_email(_field(form, "token"))


async def _accept(request: Request, services: Services, form: FormData, response: Response) -> None:
    await services.admin.accept_invite(_field(form, "token"), _field(form, "password"), client_of(request))


async def _magic(request: Request, services: Services, form: FormData, response: Response) -> None:
    # Without a redirect_url the link lands here: signing in sets the session cookie. An
    # account with two-factor authentication is asked for its code on the same page.
    otp = _field(form, "otp").strip() or None
    issued = await services.auth.magic_link_login(_field(form, "token"), client_of(request), otp=otp)
    _, jar = deliver(issued, Mode.session, services.settings)
    set_cookies(response, jar)


reset_password = TokenPage("reset_password.html", _reset)
verify_email = TokenPage("verify_email.html", _verify)
accept_invite = TokenPage("accept_invite.html", _accept)
magic_link = TokenPage("magic_link.html", _magic)


def error_page(request: Request, settings: Settings, template: str, error: AppError, status: int = 0) -> Response:
    """`template` showing the error (its code in words, and the code) instead of its content."""
    return render(request, settings, template, status or error.status, error=ShownError.of(error), done=False)


routes = [
    Mount(STATIC_PATH, app=StaticAssets(), name="pages_static"),
    reset_password.route("/auth/pages/reset-password"),
    verify_email.route("/auth/pages/verify-email"),
    accept_invite.route("/auth/pages/accept-invite"),
    magic_link.route("/auth/pages/magic-link"),
]
