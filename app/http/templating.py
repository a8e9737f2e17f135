"""How the server-rendered pages look: Jinja2 templates, one stylesheet and one script.

The templates are in app/templates/pages/ (`base.html` and one per page). PAGES_TEMPLATES_PATH
names a folder whose files replace them by name: a ChoiceLoader tries that folder first, then
ours. Autoescaping is on for every template, overrides included. Nothing is inline, so the
Content-Security-Policy allows only our own files: a value that slipped past escaping still
could not run a script.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from app.config import Settings
from app.errors import AppError, InternalServerError

if TYPE_CHECKING:
    from starlette.templating import Jinja2Templates

_APP = Path(__file__).resolve().parents[1]
TEMPLATES = _APP / "templates" / "pages"
STATIC = _APP / "static"
STATIC_PATH = "/auth/pages/static"

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; form-action 'self'; img-src 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    # Never the path (links carry ?token=) in a Referer, yet the Origin header still goes
    # with our own form posts: under no-referrer browsers send `Origin: null`, which the
    # CSRF check refuses.
    "Referrer-Policy": "strict-origin",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}

# The contract's codes (CONTRACT §8) in words; the page shows the code beside it.
SENTENCES = {
    "INVALID_TOKEN": "This link is not valid, or it has already been used.",
    "TOKEN_EXPIRED": "This link has expired. Ask for a new one.",
    "INVALID_PAYLOAD": "Something in what was sent was not accepted.",
    "INVALID_CREDENTIALS": "The sign-in was not accepted.",
    "INVALID_OTP": "That code is not right. Try again with a new code.",
    "REQUESTS_EXCEEDED": "There have been too many attempts. Wait a while, then try again.",
    "FORBIDDEN": "This is not allowed from here.",
    "USER_SUSPENDED": "This account is not active.",
    "RECORD_NOT_UNIQUE": "This is already in use by another account.",
    "INVALID_PROVIDER": "This way of signing in is not available.",
    "QUERY_TOO_COMPLEX": "The request was too complex.",
    "GRAPHQL_VALIDATION": "The request was not understood.",
    "SERVICE_UNAVAILABLE": "The service is unavailable right now. Try again in a few minutes.",
    "INTERNAL_SERVER_ERROR": "Something went wrong on our side. Try again later.",
}


@dataclass(frozen=True)
class ShownError:
    """An error as a page shows it: the code, its sentence, and the error's own message when
    it says more than the code does (for example which password rule was not met)."""

    code: str
    sentence: str
    detail: str | None
    retry_after: int | None

    @classmethod
    def of(cls, error: AppError) -> ShownError:
        sentence = SENTENCES.get(error.code, SENTENCES[InternalServerError.code])
        detail = error.message if error.message != type(error).default_message else None
        return cls(error.code, sentence, detail, error.extensions.get("retry_after"))


@cache
def templates(override: Path | None) -> Jinja2Templates:
    """The templates: the override folder's files first, then the built-in ones. Built with
    the first page shown: Jinja2 is memory that a server used through GraphQL only keeps."""
    import jinja2
    from starlette.templating import Jinja2Templates

    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(TEMPLATES)]
    if override is not None:
        loaders.insert(0, jinja2.FileSystemLoader(override))
    env = jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), autoescape=True, trim_blocks=True, lstrip_blocks=True)
    return Jinja2Templates(env=env)


def render(request: Request, settings: Settings, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """The page `name` with the values every template may use (`product`, `static_url`,
    `error`, `password_min_length`), and the pages' security headers."""
    values = {
        "product": settings.mfa_issuer,
        "static_url": _static_url_from(request.url.path),
        "error": None,
        "password_min_length": settings.password_min_length,
        **context,
    }
    return templates(settings.pages_templates_path).TemplateResponse(
        request, name, values, status_code=status, headers=HEADERS
    )


@cache
def _version(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def _static_url_from(page_path: str) -> Any:
    """`static_url(name)`: a URL relative to the page, so it holds behind a proxy that serves
    us under a path prefix; the content hash in it lets browsers keep the file for a year."""

    def static_url(name: str) -> str:
        return f"{posixpath.relpath(f'{STATIC_PATH}/{name}', posixpath.dirname(page_path))}?v={_version(name)}"

    return static_url


class StaticAssets(StaticFiles):
    """app/static/: the pages' stylesheet and script."""

    def __init__(self) -> None:
        super().__init__(directory=STATIC)

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        # The files at the top of app/static/ only: its folders belong to other routes
        # (graphiql/ is served under /graphql/static/, and only while GRAPHIQL is on).
        if "/" in path.replace("\\", "/").strip("/"):
            return "", None
        return super().lookup_path(path)

    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        # The pages link them with ?v=<content hash>, so a new version is a new URL.
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
