"""The OAuth / OpenID Connect redirect flow, as Directus shapes it:

    GET /auth/login/{provider}?redirect=URL[&link=true]   -> 302 to the provider
    GET /auth/login/{provider}/callback?code=..&state=..  -> refresh cookie + 302 to redirect

Failures are raised; app/http/failures.py answers them with `_callback_failure` (back to
`redirect?reason=<CODE>`, or, with no usable redirect, a page that shows the code, status
400/401) or `_failure_page`. Never a 500.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app.auth.links import LinkTarget, build_link
from app.errors import AppError, Forbidden, InvalidCredentials, InvalidOtp, InvalidToken
from app.http import cookies
from app.http.caller import client_of, navigating_user
from app.http.delivery import Mode, deliver, set_cookies
from app.http.failures import Answered
from app.http.pages import error_page, form_page, posted_form
from app.http.templating import HEADERS, ShownError, render
from app.services.container import Services
from app.services.sessions import IssuedTokens
from app.services.social import Flow


async def start(request: Request) -> Response:
    services: Services = request.app.state.services
    name = request.path_params["provider"]
    link_user = None
    if request.query_params.get("link") == "true":
        link_user = await navigating_user(request, services)
        if link_user is None:
            raise Forbidden("Sign in first to link another way to sign in.")
    url, sealed = await services.social.start(name, request.query_params.get("redirect"), link_user)
    response = RedirectResponse(url, status_code=302)
    cookies.oauth_flow(services.settings).set(response, sealed)
    return response


async def callback(request: Request) -> Response:
    services: Services = request.app.state.services
    name = request.path_params["provider"]
    params = request.query_params
    flow_cookie = cookies.oauth_flow(services.settings)
    services.social.client(name)
    flow = services.social.open_flow(flow_cookie.read(request), name)
    if flow is None:
        raise InvalidToken("The sign-in has expired or did not start here; start again.")
    request.state.oauth_flow = flow  # for the way back, should it fail from here on
    if params.get("error"):
        # access_denied and friends: the person (or the provider) said no.
        raise InvalidCredentials(f"The provider answered {params['error'][:64]}.")
    outcome = await services.social.finish(flow, params.get("code", ""), params.get("state", ""), client_of(request))
    if outcome.otp_ticket:
        ask = RedirectResponse("/auth/pages/otp", status_code=302)
        cookies.otp_ticket(services.settings).set(ask, outcome.otp_ticket)
        flow_cookie.clear(ask)
        return ask
    response = _signed_in(request, services, outcome.redirect, outcome.issued)
    flow_cookie.clear(response)
    return response


async def second_factor(request: Request) -> Response:
    """After a social sign-in of an account with MFA: ask for the code, then finish."""
    services: Services = request.app.state.services
    if request.method == "GET":
        return _code_form(request)
    ticket = cookies.otp_ticket(services.settings)
    form_data = await posted_form(request, services.settings)
    outcome = await services.social.finish_second_factor(
        ticket.read(request), str(form_data.get("otp", "")), client_of(request)
    )
    response = _signed_in(request, services, outcome.redirect, outcome.issued)
    ticket.clear(response)
    return response


def _signed_in(
    request: Request, services: Services, redirect: LinkTarget | None, issued: IssuedTokens | None
) -> Response:
    """Refresh cookie (when a session was opened) and the way back to the app, or a page."""
    response: Response
    if redirect:
        response = RedirectResponse(build_link(redirect), status_code=302)
    else:
        response = render(request, services.settings, "oauth_result.html", linked=issued is None)
    if issued is not None:
        # The contract's callback sets the refresh cookie: the `cookie` mode's delivery.
        _, jar = deliver(issued, Mode.cookie, services.settings)
        set_cookies(response, jar)
    return response


def _way_back(services: Services, flow: Flow | None) -> LinkTarget | None:
    """The flow's allow-listed redirect, if it still passes the check."""
    if flow is None:
        return None
    try:
        return services.social.redirect_target(flow.provider, flow.redirect)
    except AppError:
        return None


def _failure_page(request: Request, error: AppError) -> Response:
    """Starting a sign-in, or its second factor, failed: a page with the code."""
    status = error.status if error.status in (400, 401, 403, 429, 503) else 400
    return error_page(request, request.app.state.services.settings, "oauth_error.html", error, status)


def _code_form(request: Request, error: AppError | None = None) -> Response:
    """The second-factor form (with `error` above it). The right code answers with a
    redirect to the app, which browsers check against the page's form-action: without the
    allow-listed origins there, they cancel the sign-in silently."""
    services: Services = request.app.state.services
    if error is None:
        response = form_page(request, services.settings, "otp.html")
    else:
        response = form_page(request, services.settings, "otp.html", error.status, error=ShownError.of(error))
    if services.social.return_origins:
        response.headers["Content-Security-Policy"] = HEADERS["Content-Security-Policy"].replace(
            "form-action 'self'", " ".join(["form-action 'self'", *services.social.return_origins])
        )
    return response


def _second_factor_failure(request: Request, error: AppError) -> Response:
    """A mistyped or stale code: the ticket still holds, so the form comes back with the
    error above it (the failure page would leave the person nothing to type a code into)."""
    if isinstance(error, InvalidOtp):
        return _code_form(request, error)
    return _failure_page(request, error)


def _callback_failure(request: Request, error: AppError) -> Response:
    """Back to the application with `?reason=<CODE>` when the flow names an allow-listed
    way back, else the page; either way the flow is spent."""
    services: Services = request.app.state.services
    back = _way_back(services, getattr(request.state, "oauth_flow", None))
    failed: Response
    if back:
        failed = RedirectResponse(build_link(back, reason=error.code), status_code=302)
    else:
        failed = _failure_page(request, error)
    cookies.oauth_flow(services.settings).clear(failed)
    return failed


routes = [
    Answered("/auth/login/{provider}", start, methods=["GET"], failure=_failure_page),
    Answered("/auth/oauth/{provider}", start, methods=["GET"], failure=_failure_page),
    Answered("/auth/login/{provider}/callback", callback, methods=["GET"], failure=_callback_failure),
    Answered("/auth/oauth/{provider}/callback", callback, methods=["GET"], failure=_callback_failure),
    Answered("/auth/pages/otp", second_factor, methods=["GET", "POST"], failure=_second_factor_failure),
]
