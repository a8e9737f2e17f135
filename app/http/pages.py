"""Plain server-rendered pages that emailed links open by default.

GET only shows a form; the state change happens on POST, so mail scanners that follow
links cannot consume a token.
"""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from app.errors import AppError, from_exception
from app.http import cookies
from app.schema.context import client_info

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
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=escape(title), body=body), status_code=status, headers=_HEADERS)


def _token_field(token: str) -> str:
    return f'<input type="hidden" name="token" value="{escape(token, quote=True)}">'


async def reset_password(request: Request) -> Response:
    services = request.app.state.services
    if request.method == "GET":
        token = request.query_params.get("token", "")
        if not token:
            return page("Reset password", '<p class="error">This link is incomplete.</p>', 400)
        return page(
            "Choose a new password",
            f'<form method="post">{_token_field(token)}'
            f'<label>New password <input type="password" name="password" autocomplete="new-password" '
            f'minlength="{services.settings.password_min_length}" required></label>'
            "<button>Set password</button></form>",
        )
    form = await request.form()
    try:
        await services.users.reset_password(str(form.get("token", "")), str(form.get("password", "")))
    except Exception as exc:  # noqa: BLE001 - shown as a page with the code
        return _failure("Reset password", from_exception(exc))
    return page("Password changed", "<p>Your password has been changed. You can sign in now.</p>")


async def verify_email(request: Request) -> Response:
    services = request.app.state.services
    if request.method == "GET":
        token = request.query_params.get("token", "")
        return page(
            "Verify your email",
            f'<form method="post">{_token_field(token)}<button>Confirm my email address</button></form>',
        )
    form = await request.form()
    try:
        await services.users.verify_email(str(form.get("token", "")))
    except Exception as exc:  # noqa: BLE001 - shown as a page with the code
        return _failure("Verify your email", from_exception(exc))
    return page("Email verified", "<p>Thank you, your email address is verified.</p>")


async def accept_invite(request: Request) -> Response:
    services = request.app.state.services
    if request.method == "GET":
        token = request.query_params.get("token", "")
        return page(
            "Accept your invitation",
            f'<form method="post">{_token_field(token)}'
            f'<label>Choose a password <input type="password" name="password" autocomplete="new-password" '
            f'minlength="{services.settings.password_min_length}" required></label>'
            "<button>Create my account</button></form>",
        )
    form = await request.form()
    try:
        await services.admin.accept_invite(
            str(form.get("token", "")), str(form.get("password", "")), client_info(request)
        )
    except Exception as exc:  # noqa: BLE001 - shown as a page with the code
        return _failure("Accept your invitation", from_exception(exc))
    return page("Welcome", "<p>Your account is ready. You can sign in now.</p>")


async def magic_link(request: Request) -> Response:
    """Without a redirect_url the link lands here; signing in sets the session cookie."""
    services = request.app.state.services
    if request.method == "GET":
        token = request.query_params.get("token", "")
        return page("Sign in", f'<form method="post">{_token_field(token)}<button>Sign me in</button></form>')
    form = await request.form()
    try:
        issued = await services.auth.magic_link_login(str(form.get("token", "")), client_info(request))
    except Exception as exc:  # noqa: BLE001 - shown as a page with the code
        return _failure("Sign in", from_exception(exc))
    response = page("Signed in", "<p>You are signed in. You can close this page.</p>")
    cookies.set_mode_cookie(response, services.settings, issued, "session")
    return response


def _failure(title: str, error: AppError) -> HTMLResponse:
    body = f'<p class="error">{escape(error.message)}</p><p>Code: <code>{escape(error.code)}</code></p>'
    return page(title, body, error.status)


routes = [
    Route("/auth/pages/reset-password", reset_password, methods=["GET", "POST"]),
    Route("/auth/pages/verify-email", verify_email, methods=["GET", "POST"]),
    Route("/auth/pages/accept-invite", accept_invite, methods=["GET", "POST"]),
    Route("/auth/pages/magic-link", magic_link, methods=["GET", "POST"]),
]
