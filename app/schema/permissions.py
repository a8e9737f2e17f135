"""Field permissions, usable on any field, including those an embedding app adds:

    @strawberry.field(permission_classes=[IsAuthenticated])
    def secret_notes(self, info: Info) -> list[str]: ...

A request whose token was bad runs as EVERYONE; then a denial reports the token's code
(INVALID_TOKEN / TOKEN_EXPIRED) rather than FORBIDDEN, so clients know to refresh.
"""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from app.errors import AppError, Forbidden, InvalidToken, TokenExpired


def denied(info: Info) -> AppError:
    token_error = info.context.viewer.token_error
    if token_error == TokenExpired.code:
        return TokenExpired()
    if token_error == InvalidToken.code:
        return InvalidToken()
    return Forbidden()


class IsAuthenticated(BasePermission):
    message = "You must be signed in."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        if not info.context.viewer.authenticated:
            raise denied(info)
        return True


def HasRole(*roles: str) -> type[BasePermission]:  # noqa: N802 - reads as a class at the use site
    """`permission_classes=[HasRole("admin")]`: the viewer's role must be one of those given.
    (Strawberry instantiates permission classes itself, hence a class factory.)"""
    allowed = frozenset(roles)

    class RoleCheck(BasePermission):
        message = "You don't have permission to access this."

        def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
            if info.context.viewer.role not in allowed:
                raise denied(info)
            return True

    RoleCheck.__name__ = RoleCheck.__qualname__ = f"HasRole({', '.join(sorted(allowed))})"
    return RoleCheck


class IsOwnerOrAdmin(BasePermission):
    """The source object's `owner_id` is the viewer, or the viewer is an admin."""

    message = "You don't have permission to access this."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.viewer
        if getattr(source, "revealed", False) or viewer.role == "admin":
            return True
        if viewer.authenticated and getattr(source, "owner_id", None) == viewer.user_id:
            return True
        raise denied(info)


class IsSessionUser(BasePermission):
    """Signed in with a session, not an API token: required for every operation on the
    account's credentials (sessions, API tokens, password, MFA, linked identities, deletion),
    so a leaked or low-role API token cannot sign its owner out, mint more tokens or take
    the account over. Implies IsAuthenticated."""

    message = "This needs a signed-in session."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.viewer
        if viewer.api_token_id is not None:
            raise Forbidden("API tokens cannot manage the account's credentials; sign in to do this.")
        if viewer.session_id is None:
            raise denied(info)
        return True
