"""CSRF protection for the server-rendered page forms (everything under /auth/pages/).

Two independent checks on every POST:

1. Where it comes from. `Sec-Fetch-Site` must be `same-origin` or `none` when a browser sends
   it, and `Origin` must be PUBLIC_URL's origin when sent; `Origin: null` (sandboxed frames,
   opaque redirects) is refused.
2. A double-submit token: GET sets a random value in an httpOnly, SameSite=Strict cookie and
   puts the same value in a hidden field; POST must bring both, equal.

Why a cookie-bound token and not an HMAC of a per-page nonce: the attack these pages invite
is login CSRF (a page elsewhere posts the attacker's own magic-link token, and the victim's
browser ends up signed in as the attacker). A signed nonce proves only that *someone* loaded
our form, and the attacker can load it too and paste the nonce into their page. The cookie
ties the token to this browser, and SameSite=Strict keeps it off every cross-site request,
so a forged post arrives without it. When PUBLIC_URL is https the cookie is `__Host-`
prefixed, so a sibling subdomain cannot plant its own value.
"""

from __future__ import annotations

import re
import secrets

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from app.config import Settings, parse_origin
from app.errors import Forbidden
from app.http import cookies

FIELD = "csrf_token"  # the hidden field in the page templates
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
_SAFE_FETCH_SITES = frozenset({"same-origin", "none"})


def token_for(request: Request, settings: Settings) -> str:
    """This browser's token: the one its cookie holds (several tabs share it), else a new one."""
    current = cookies.page_csrf(settings).read(request) or ""
    return current if _TOKEN.fullmatch(current) else secrets.token_urlsafe(32)


def remember(response: Response, settings: Settings, token: str) -> None:
    cookies.page_csrf(settings).set(response, token)


def check(request: Request, form: FormData, settings: Settings) -> None:
    """Raise Forbidden unless the POST comes from our own page in this browser."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in _SAFE_FETCH_SITES:
        raise Forbidden("This form was sent from another site.")
    origin = request.headers.get("origin")
    if origin is not None and parse_origin(origin) != settings.public_origin:
        raise Forbidden("This form was sent from another site.")
    sent = form.get(FIELD)
    kept = cookies.page_csrf(settings).read(request)
    if not isinstance(sent, str) or not kept or not secrets.compare_digest(sent.encode(), kept.encode()):
        raise Forbidden("This form has expired; open the link again.")
