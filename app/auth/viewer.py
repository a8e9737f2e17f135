"""Who is asking: one principal per request, resolved once, never raising."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.requests import HTTPConnection

from app.auth.tokens import AccessTokens
from app.config import Settings, parse_origin
from app.errors import AppError, InvalidToken
from app.models import Session, Status, User
from app.services.api_tokens import PREFIX as API_TOKEN_PREFIX
from app.services.api_tokens import ApiTokenService
from app.services.sessions import SessionService

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Viewer:
    user: User | None = None
    role: str = "EVERYONE"
    session_id: str | None = None
    api_token_id: str | None = None
    token_error: str | None = None  # INVALID_TOKEN / TOKEN_EXPIRED for a bad credential

    @property
    def authenticated(self) -> bool:
        return self.user is not None

    @property
    def user_id(self) -> str | None:
        return str(self.user.id) if self.user else None


EVERYONE = Viewer()


def bearer_token(request: HTTPConnection) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else ""
    return request.headers.get("x-api-key")


def cookie_request_allowed(request: HTTPConnection, settings: Settings) -> bool:
    """CSRF guard for cookie credentials: JSON only (no simple form posts), and a known
    Origin when the browser sends one."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    # `Origin: null` (sandboxed frames, some redirects) parses to None: never allowed.
    return parse_origin(origin) in settings.allowed_origins


async def resolve_viewer(
    request: HTTPConnection, settings: Settings, tokens: AccessTokens, sessions: SessionService
) -> Viewer:
    """Credentials in the contract's order: Authorization (or X-API-Key), the session
    cookie, then ?access_token= when ACCESS_TOKEN_QUERY_PARAM is on."""
    try:
        token = bearer_token(request)
        if token is None:
            session_token = request.cookies.get(settings.session_cookie.name)
            if session_token and cookie_request_allowed(request, settings):
                return await _from_session_token(session_token, sessions)
            if settings.access_token_query_param:
                token = request.query_params.get("access_token")
        if token is not None and token.startswith(API_TOKEN_PREFIX):
            user, role, token_id = await ApiTokenService.authenticate(token)
            return Viewer(user=user, role=role.value, api_token_id=token_id)
        if token is not None:
            return await _from_access_token(token, tokens)
    except AppError as error:
        return Viewer(token_error=error.code)
    return EVERYONE


async def _from_access_token(token: str, tokens: AccessTokens) -> Viewer:
    claims = tokens.decode(token)
    # The one indexed lookup of an authenticated request: it proves the session is still
    # live (logout, reset and suspension revoke at once) and brings the user along.
    user = await Session.live_user(_uuid(claims.session_id), datetime.now(UTC))
    if user is None or str(user.id) != claims.user_id or user.status != Status.active:
        raise InvalidToken()
    return Viewer(user=user, role=str(user.role), session_id=claims.session_id)


async def _from_session_token(token: str, sessions: SessionService) -> Viewer:
    if len(token) > 256:
        raise InvalidToken()
    session = await sessions.live_session_for(token)
    if session is None:
        raise InvalidToken()
    return _viewer_for(session)


def _viewer_for(session: Session) -> Viewer:
    user: User = session.user
    if not session.is_live(datetime.now(UTC)) or user.status != Status.active:
        raise InvalidToken()
    return Viewer(user=user, role=str(user.role), session_id=str(session.id))


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidToken() from None
