"""Who is asking: the one principal of a request (app/http/caller.py finds it)."""

from __future__ import annotations

from dataclasses import dataclass

from app.models import User


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

    # Starlette's BaseUser, by shape (this module stays free of the web framework): the
    # viewer is `request.user` on every route.
    @property
    def is_authenticated(self) -> bool:
        return self.user is not None

    @property
    def display_name(self) -> str:
        return (self.user.email or "") if self.user else ""

    @property
    def identity(self) -> str:
        return self.user_id or ""


EVERYONE = Viewer()
