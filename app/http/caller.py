"""Who is asking, resolved once per request at the edge for every route family: the
GraphQL endpoints, the REST twins, the OAuth routes and the pages all read `request.user`
(a Viewer) and `client_of(request)`; nothing else reads a credential.

Credentials, in the contract's order: Authorization (or X-API-Key), the session cookie,
then ?access_token= when ACCESS_TOKEN_QUERY_PARAM is on. A request without one costs a few
header lookups; one with a credential costs one verify and one indexed lookup. A bad
credential never raises: it is EVERYONE with `token_error`, which GraphQL reports as an
error and the permission classes as the code to refresh on.
"""

from __future__ import annotations

from typing import cast
from urllib.parse import urlsplit

from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError, BaseUser
from starlette.requests import HTTPConnection
from starlette.responses import Response

from app.auth.viewer import EVERYONE, Viewer
from app.config import Settings, parse_origin
from app.errors import AppError, from_exception, unavailable_errors
from app.http import cookies
from app.http.responses import error_response
from app.http.templating import STATIC_PATH
from app.models import User
from app.services.api_tokens import PREFIX as API_TOKEN_PREFIX
from app.services.api_tokens import ApiTokenService
from app.services.client import ClientInfo
from app.services.container import Services

# Answered without looking at credentials: probes, public keys and the pages' static files
# need no caller.
UNRESOLVED_PATHS = frozenset({"/health", "/.well-known/jwks.json"})
UNRESOLVED_PREFIX = STATIC_PATH + "/"


class Caller(AuthenticationBackend):
    """The backend of Starlette's AuthenticationMiddleware (installed in app/main.py)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser]:
        path: str = conn.scope["path"]
        if path in UNRESOLVED_PATHS or path.startswith(UNRESOLVED_PREFIX):
            return _ANONYMOUS
        try:
            viewer = await self.resolve(conn)
        except unavailable_errors() as exc:
            # No route has been chosen yet: the middleware answers it (`unavailable`).
            raise AuthenticationError("database unavailable") from exc
        if viewer is EVERYONE:
            return _ANONYMOUS
        scopes = ["authenticated", viewer.role] if viewer.authenticated else []
        return AuthCredentials(scopes), _as_user(viewer)

    async def resolve(self, conn: HTTPConnection) -> Viewer:
        try:
            token = bearer_token(conn)
            if token is None:
                session_token = cookie_credential(conn, self.settings, self.settings.session_cookie.name)
                if session_token:
                    return await self.services.sessions.viewer_for_session_token(session_token)
                if self.settings.access_token_query_param:
                    token = conn.query_params.get("access_token")
            if token is not None and token.startswith(API_TOKEN_PREFIX):
                user, role, token_id = await ApiTokenService.authenticate(token)
                return Viewer(user=user, role=role.value, api_token_id=token_id)
            if token is not None:
                return await self.services.sessions.viewer_for_access_token(token)
        except AppError as error:
            return Viewer(token_error=error.code)
        return EVERYONE


def unavailable(conn: HTTPConnection, exc: AuthenticationError) -> Response:
    """AuthenticationMiddleware's answer when the database could not say who is asking."""
    return error_response(from_exception(exc.__cause__ or exc))


def viewer_of(conn: HTTPConnection) -> Viewer:
    viewer: Viewer = conn.user
    return viewer


def client_of(conn: HTTPConnection) -> ClientInfo:
    """The other end of this request (address, user agent, device cookie), as services take
    it: built once per request, when a handler first asks (most requests never do)."""
    state = conn.scope.setdefault("state", {})
    client: ClientInfo | None = state.get("client")
    if client is None:
        client = state["client"] = ClientInfo(
            ip=conn.client.host if conn.client else None,
            user_agent=conn.headers.get("user-agent"),
            device=conn.cookies.get(cookies.DEVICE),
        )
    return client


def _as_user(viewer: Viewer) -> BaseUser:
    # The Viewer has BaseUser's properties by shape: app/auth/ imports no Starlette.
    return cast(BaseUser, viewer)


# Most requests carry no credential: one shared answer, nothing built per request.
_ANONYMOUS = (AuthCredentials(), _as_user(EVERYONE))


def bearer_token(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else ""
    return conn.headers.get("x-api-key")


def cookie_request_allowed(conn: HTTPConnection, settings: Settings) -> bool:
    """CSRF guard for cookie credentials: JSON only (no simple form posts), and a known
    Origin when the browser sends one."""
    content_type = conn.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        return False
    origin = conn.headers.get("origin")
    if origin is None:
        return True
    # `Origin: null` (sandboxed frames, some redirects) parses to None: never allowed.
    return parse_origin(origin) in settings.allowed_origins


def cookie_credential(conn: HTTPConnection, settings: Settings, name: str) -> str | None:
    """A cookie that stands for a session (session or refresh cookie), on requests that
    pass the CSRF rule only; otherwise None, as if the browser had not sent it."""
    value = conn.cookies.get(name)
    if not value or not cookie_request_allowed(conn, settings):
        return None
    return value


async def navigating_user(conn: HTTPConnection, services: Services) -> User | None:
    """The user whose session or refresh cookie a top-level navigation carries (linking a
    social account starts with one): a GET that cannot carry a JSON content type, so the
    CSRF rule above cannot apply. Instead a navigation another site started (Sec-Fetch-Site:
    cross-site) counts only when it came from one of our allowed origins (its Referer):
    otherwise any site could start linking in a signed-in browser and, with a login CSRF at
    the provider, attach an identity of its own."""
    settings = services.settings
    if conn.headers.get("sec-fetch-site") == "cross-site":
        referer = urlsplit(conn.headers.get("referer", ""))
        if parse_origin(f"{referer.scheme}://{referer.netloc}") not in settings.allowed_origins:
            return None
    token = conn.cookies.get(settings.session_cookie.name) or conn.cookies.get(settings.refresh_cookie.name)
    return await services.sessions.user_for(token or "")
