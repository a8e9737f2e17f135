"""Sessions and the tokens that stand for them: open, rotate (with reuse detection), revoke."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from tortoise.expressions import Q

from app.auth.secrets import hash_token, new_token
from app.auth.tokens import AccessTokens, RefreshTokens
from app.config import Settings
from app.errors import Forbidden, InvalidToken, TokenExpired, UserSuspended
from app.models import Session, Status, User
from app.services import audit
from app.services.client import ClientInfo, now
from app.services.pages import Page, keyset_page

log = logging.getLogger("app.sessions")

MAX_REFRESH_TOKEN_LENGTH = 128


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    expires: int  # access token lifetime in milliseconds
    refresh_token: str
    user: User
    session_id: str


def check_can_sign_in(user: User) -> None:
    if user.status != Status.active:
        raise UserSuspended()


class SessionService:
    def __init__(self, settings: Settings, access: AccessTokens, refresh: RefreshTokens) -> None:
        self.settings = settings
        self.access = access
        self.refresh_tokens = refresh

    async def open(self, user: User, client: ClientInfo) -> IssuedTokens:
        seed = new_token(32)
        token = self.refresh_tokens.derive(seed, 0)
        session = await Session.create(
            user=user,
            seed=seed,
            refresh_hash=hash_token(token),
            expires_at=now() + timedelta(seconds=self.settings.refresh_token_ttl),
            last_used_at=now(),
            ip=client.ip,
            user_agent=(client.user_agent or "")[:512] or None,
        )
        user.last_login_at = now()
        await user.save(update_fields=["last_login_at"])
        return self._issue(user, session, token)

    async def rotate(self, token: str) -> IssuedTokens:
        """Swap a refresh token for a new pair. A token rotated less than
        REFRESH_TOKEN_REUSE_INTERVAL ago gets the same successor (two tabs refreshing at
        once); later it means the token was copied, and the whole session is revoked."""
        presented = self._hash(token)
        session = (
            await Session.filter(Q(refresh_hash=presented) | Q(previous_hash=presented)).select_related("user").first()
        )
        if session is None:
            raise InvalidToken()
        self._check_live(session)
        if session.refresh_hash == presented:
            successor = await self._advance(session, presented)
            if successor is not None:
                return self._issue(session.user, session, successor)
            # Lost a race with a concurrent refresh of the same token: reload, then answer
            # as a reuse within the interval.
            reloaded = await Session.filter(id=session.id).select_related("user").first()
            if reloaded is None or reloaded.previous_hash != presented:
                raise InvalidToken()
            session = reloaded
        return await self._reuse(session)

    async def user_for(self, token: str) -> User | None:
        """The user of the live session whose current refresh/session token this is."""
        if not token or len(token) > MAX_REFRESH_TOKEN_LENGTH:
            return None
        session = await Session.filter(refresh_hash=hash_token(token)).select_related("user").first()
        if session is None or not session.is_live(now()) or session.user.status != Status.active:
            return None
        user: User = session.user
        return user

    async def revoke_by_token(self, token: str) -> None:
        presented = self._hash(token)
        updated = await Session.filter(Q(refresh_hash=presented) | Q(previous_hash=presented), revoked_at=None).update(
            revoked_at=now()
        )
        if not updated:
            raise InvalidToken()

    async def revoke_all(self, user_id: str, keep: str | None = None) -> int:
        query = Session.filter(user_id=user_id, revoked_at=None)
        if keep:
            query = query.exclude(id=keep)
        return await query.update(revoked_at=now())

    async def live(self, user_id: str, first: int | None, after: str | None) -> Page[Session]:
        query = Session.filter(user_id=user_id, revoked_at=None, expires_at__gt=now())
        return await keyset_page(query, first, after)

    async def revoke(self, user_id: str, session_id: str) -> None:
        """Revoke one of the user's own sessions; someone else's looks like a missing one."""
        updated = await Session.filter(id=session_id, user_id=user_id, revoked_at=None).update(revoked_at=now())
        if not updated:
            raise Forbidden()

    async def _advance(self, session: Session, presented: str) -> str | None:
        generation = session.generation + 1
        successor = self.refresh_tokens.derive(session.seed, generation)
        moment = now()
        # Optimistic concurrency: only one of two racing refreshes moves the generation.
        updated = await Session.filter(id=session.id, generation=session.generation).update(
            generation=generation,
            refresh_hash=hash_token(successor),
            previous_hash=presented,
            rotated_at=moment,
            last_used_at=moment,
            expires_at=moment + timedelta(seconds=self.settings.refresh_token_ttl),
        )
        if not updated:
            return None
        session.generation = generation
        return successor

    async def _reuse(self, session: Session) -> IssuedTokens:
        rotated_at = session.rotated_at or session.created_at
        age = (now() - rotated_at).total_seconds()
        if age <= self.settings.refresh_token_reuse_interval:
            return self._issue(session.user, session, self.refresh_tokens.derive(session.seed, session.generation))
        await Session.filter(id=session.id).update(revoked_at=now())
        log.warning("refresh token reused after rotation: session %s revoked", session.id)
        await audit.record("refresh_token.reused", user_id=session.user_id, session_id=str(session.id))
        raise InvalidToken()

    def _check_live(self, session: Session) -> None:
        if session.revoked_at is not None:
            raise InvalidToken()
        if session.expires_at <= now():
            raise TokenExpired()
        check_can_sign_in(session.user)

    def _hash(self, token: str) -> str:
        if not token or len(token) > MAX_REFRESH_TOKEN_LENGTH:
            raise InvalidToken()
        return hash_token(token)

    def _issue(self, user: User, session: Session, refresh_token: str) -> IssuedTokens:
        access, expires = self.access.issue(str(user.id), str(session.id), str(user.role))
        return IssuedTokens(access, expires, refresh_token, user, str(session.id))
