"""API tokens: `sk_` secrets shown once, stored as sha256, acting as their user with at
most their role."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from app.auth.secrets import hash_token, new_token
from app.errors import Forbidden, InvalidPayload, InvalidToken, TokenExpired
from app.models import ApiToken, Role, Status, User
from app.services import audit
from app.services.client import ClientInfo, now
from app.services.pagination import Page, keyset_page

PREFIX = "sk_"
MAX_NAME = 100
TOUCH_INTERVAL = 60


def effective_role(user_role: Role, token_role: Role) -> Role:
    """The lower of the two: a token never grants more than its user has now."""
    return token_role if token_role.rank <= user_role.rank else user_role


class ApiTokenService:
    async def create(
        self, user: User, name: str, role: Role | None, expires_at: datetime | None, client: ClientInfo
    ) -> tuple[ApiToken, str]:
        name = name.strip()
        if not name or len(name) > MAX_NAME:
            raise InvalidPayload(f"A name of 1 to {MAX_NAME} characters is required.")
        role = role or Role(user.role)
        if role.rank > Role(user.role).rank:
            raise Forbidden("A token cannot have a role above your own.")
        if expires_at is not None and expires_at <= now():
            raise InvalidPayload("expires_at must be in the future.")
        secret = PREFIX + new_token(32)
        token = await ApiToken.create(
            user=user, name=name, role=role, token_hash=hash_token(secret), expires_at=expires_at
        )
        await audit.record("api_token.created", user_id=user.id, client=client, token_id=str(token.id), role=role.value)
        return token, secret

    async def list(self, user: User, first: int | None, after: str | None) -> Page[ApiToken]:
        return await keyset_page(ApiToken.filter(user_id=user.id, revoked_at=None), first, after)

    async def revoke(self, user: User, token_id: str, client: ClientInfo) -> None:
        updated = await ApiToken.filter(id=token_id, user_id=user.id, revoked_at=None).update(revoked_at=now())
        if not updated:
            raise Forbidden()
        await audit.record("api_token.revoked", user_id=user.id, client=client, token_id=token_id)

    @staticmethod
    async def revoke_all(user_id: UUID | str) -> int:
        """Account recovery and suspension: every token of the user stops working for good."""
        return await ApiToken.filter(user_id=user_id, revoked_at=None).update(revoked_at=now())

    @staticmethod
    async def authenticate(secret: str) -> tuple[User, Role, str]:
        """(user, effective role, token id) for a presented `sk_` token."""
        if not secret.startswith(PREFIX) or len(secret) > 128:
            raise InvalidToken()
        token = await ApiToken.filter(token_hash=hash_token(secret)).select_related("user").first()
        if token is None or token.revoked_at is not None:
            raise InvalidToken()
        moment = now()
        if token.expires_at is not None and token.expires_at <= moment:
            raise TokenExpired()
        user: User = token.user
        if user.status != Status.active:
            raise InvalidToken()
        if token.last_used_at is None or (moment - token.last_used_at).total_seconds() > TOUCH_INTERVAL:
            await ApiToken.filter(id=token.id).update(last_used_at=moment)
        return user, effective_role(Role(user.role), Role(token.role)), str(token.id)
