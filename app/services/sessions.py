"""Sessions and the tokens that stand for them: open, rotate (with reuse detection), revoke."""

from __future__ import annotations

import copy
import hmac
import logging
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from app.auth.devices import DeviceCookies
from app.auth.secrets import hash_token, new_token
from app.auth.tokens import AccessTokens, RefreshTokens
from app.auth.viewer import Viewer
from app.config import Settings
from app.errors import Forbidden, InvalidToken, TokenExpired, UserSuspended
from app.models import Session, Status, User
from app.models.session import TOUCH_INTERVAL, Advance, LiveRow
from app.services import audit, revocations
from app.services.client import ClientInfo, now
from app.services.live_sessions import LiveSessions
from app.services.notices import SignInNotices
from app.services.pagination import Page, keyset_page
from app.services.rotations import Rotations

log = logging.getLogger("app.sessions")

MAX_REFRESH_TOKEN_LENGTH = 128
MAX_SESSION_TOKEN_LENGTH = 256
# How far back a replayed token is still recognised (and revokes its session).
MAX_REMEMBERED_GENERATIONS = 1000


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    expires: int  # access token lifetime in milliseconds
    refresh_token: str
    user: User
    session_id: str
    # At sign-in: the device cookie to set (app/auth/devices.py); None on refresh.
    device: str | None = None


class SessionService:
    def __init__(
        self,
        settings: Settings,
        access: AccessTokens,
        refresh: RefreshTokens,
        devices: DeviceCookies,
        notices: SignInNotices | None = None,
        remembered: LiveSessions | None = None,
    ) -> None:
        self.settings = settings
        # Live sessions remembered in process (None: SESSION_CACHE_TTL=0).
        self.remembered = remembered
        self.access = access
        self.refresh_tokens = refresh
        self.devices = devices
        self.notices = notices
        self.rotations = Rotations()

    async def open(self, user: User, client: ClientInfo) -> IssuedTokens:
        session_id, seed = str(uuid.uuid4()), new_token(32)
        token = self.refresh_tokens.derive(session_id, seed, 0)
        session = await Session.create(
            id=session_id,
            user=user,
            seed=seed,
            refresh_hash=hash_token(token),
            expires_at=now() + timedelta(seconds=self.settings.refresh_token_ttl),
            last_used_at=now(),
            ip=client.ip,
            user_agent=(client.user_agent or "")[:512] or None,
        )
        first = user.last_login_at is None
        user.last_login_at = now()
        await user.save(update_fields=["last_login_at"])
        if self.notices is not None:
            self.notices.after_sign_in(user, client, first=first)
        # Every sign-in marks the client as a device of this account (a budget of its own).
        return replace(self._issue(user, session, token), device=self.devices.remember(client.device, user.id))

    async def rotate(self, token: str) -> IssuedTokens:
        """Swap a refresh token for a new pair. The token rotated just before the current one,
        presented again within REFRESH_TOKEN_REUSE_INTERVAL, gets the same successor (two tabs
        refreshing at once); any other old token means it was copied: the whole session is
        revoked."""
        remembered = await self._rotate_remembered(token)
        if remembered is not None:
            return remembered
        epoch = self.remembered.epoch if self.remembered is not None else 0
        session, generation = await self._presented(token)
        if generation == session.generation:
            successor = await self._advance(session)
            if successor is not None:
                if self.remembered is not None:
                    row = LiveRow(
                        session.user, session.expires_at, session.last_used_at, session.seed, session.generation
                    )
                    self.remembered.put(str(session.id), row, epoch)
                return self._issue(session.user, session, successor)
            # Lost a race with a concurrent refresh of the same token: reload; the token is
            # now the previous generation.
            reloaded = await Session.with_user(str(session.id))
            if reloaded is None:
                raise InvalidToken()
            session = reloaded
            self._check_live(session)
        if generation == session.generation - 1 and self._within_reuse_interval(session):
            current = self.refresh_tokens.derive(str(session.id), session.seed, session.generation)
            return self._issue(session.user, session, current)
        await Session.filter(id=session.id).update(revoked_at=now())
        await revocations.forget_session(session.id)
        log.warning("refresh token reused after rotation: session %s revoked", session.id)
        await audit.record("refresh_token.reused", user_id=session.user_id, session_id=str(session.id))
        raise InvalidToken()

    async def _rotate_remembered(self, token: str) -> IssuedTokens | None:
        """A refresh in one statement: the session is remembered, live, and the token is its
        current one. The UPDATE is conditional on the generation and on the session being
        live in the database, so a stale memory can only make it fall back (None) to the
        full path, never rotate a revoked session."""
        if self.remembered is None or not token or len(token) > MAX_REFRESH_TOKEN_LENGTH:
            return None
        try:
            session_id = RefreshTokens.session_id_of(token)
        except InvalidToken:
            return None
        live = self.remembered.get(session_id)
        moment = now()
        if live is None or live.expires_at <= moment or live.user.status != Status.active:
            return None
        if not hmac.compare_digest(self.refresh_tokens.derive(session_id, live.seed, live.generation), token):
            return None
        generation = live.generation + 1
        successor = self.refresh_tokens.derive(session_id, live.seed, generation)
        expires_at = moment + timedelta(seconds=self.settings.refresh_token_ttl)
        if not await self.rotations.advance(Advance(session_id, generation, hash_token(successor), moment, expires_at)):
            return None
        live.generation, live.expires_at, live.last_used_at = generation, expires_at, moment
        user = live.user_copy()
        access, expires = self.access.issue(str(user.id), session_id, str(user.role))
        return IssuedTokens(access, expires, successor, user, session_id)

    async def live_session_for(self, token: str) -> Session | None:
        """The live session whose current token this is (or the one rotated just before,
        within the reuse interval): session cookies and linking."""
        try:
            session, generation = await self._presented(token)
        except (InvalidToken, TokenExpired, UserSuspended):
            return None
        if generation == session.generation or (
            generation == session.generation - 1 and self._within_reuse_interval(session)
        ):
            return session
        return None

    async def user_for(self, token: str) -> User | None:
        session = await self.live_session_for(token)
        return session.user if session is not None else None

    async def viewer_for_access_token(self, token: str) -> Viewer:
        """Who an access token stands for; raises for a bad, expired or revoked one."""
        claims = self.access.decode(token)
        session_id = _uuid(claims.session_id)
        moment = now()
        live = self.remembered.get(session_id) if self.remembered is not None else None
        if live is not None and live.expires_at > moment:
            user = live.user_copy()
            if live.last_used_at is None or (moment - live.last_used_at).total_seconds() > TOUCH_INTERVAL:
                live.last_used_at = moment
                await Session.touch(session_id, moment)
        else:
            # The one indexed lookup of an authenticated request: it proves the session is
            # still live (logout, reset and suspension revoke at once) and brings the user
            # along. Kept for the next requests unless something was revoked meanwhile.
            epoch = self.remembered.epoch if self.remembered is not None else 0
            found = await Session.live_user(session_id, moment)
            if found is None:
                raise InvalidToken()
            user = found.user
            if self.remembered is not None:
                self.remembered.put(session_id, found, epoch)
                user = copy.copy(user)
        if str(user.id) != claims.user_id or user.status != Status.active:
            raise InvalidToken()
        return Viewer(user=user, role=str(user.role), session_id=claims.session_id)

    async def viewer_for_session_token(self, token: str) -> Viewer:
        """Who a session cookie (mode `session`) stands for; raises unless its session is live."""
        if len(token) > MAX_SESSION_TOKEN_LENGTH:
            raise InvalidToken()
        session = await self.live_session_for(token)
        if session is None:
            raise InvalidToken()
        user: User = session.user
        if not session.is_live(now()) or user.status != Status.active:
            raise InvalidToken()
        return Viewer(user=user, role=str(user.role), session_id=str(session.id))

    async def revoke_by_token(self, token: str) -> None:
        session = await self.live_session_for(token)
        if session is None or not await Session.filter(id=session.id, revoked_at=None).update(revoked_at=now()):
            raise InvalidToken()
        await revocations.forget_session(session.id)

    async def revoke_all(self, user_id: str, keep: str | None = None) -> int:
        query = Session.filter(user_id=user_id, revoked_at=None)
        if keep:
            query = query.exclude(id=keep)
        revoked = await query.update(revoked_at=now())
        await revocations.forget_user(user_id)
        return revoked

    async def authenticated_within(self, session_id: str, seconds: float) -> bool:
        """Whether the session signed in, or re-authenticated, within the last `seconds`."""
        row = await Session.filter(id=session_id, revoked_at=None).values("created_at", "reauthenticated_at")
        if not row:
            return False
        moments: list[datetime] = [m for m in (row[0]["created_at"], row[0]["reauthenticated_at"]) if m is not None]
        return (now() - max(moments)).total_seconds() <= seconds

    async def mark_reauthenticated(self, session_id: str) -> None:
        await Session.filter(id=session_id).update(reauthenticated_at=now())

    async def live(self, user_id: str, first: int | None, after: str | None) -> Page[Session]:
        query = Session.filter(user_id=user_id, revoked_at=None, expires_at__gt=now())
        return await keyset_page(query, first, after)

    async def revoke(self, user_id: str, session_id: str) -> None:
        """Revoke one of the user's own sessions; someone else's looks like a missing one."""
        updated = await Session.filter(id=session_id, user_id=user_id, revoked_at=None).update(revoked_at=now())
        if not updated:
            raise Forbidden()
        await revocations.forget_session(session_id)

    async def _presented(self, token: str) -> tuple[Session, int]:
        """The live session a token names and the generation it is; a forged token, or one
        for a revoked or expired session, raises."""
        if not token or len(token) > MAX_REFRESH_TOKEN_LENGTH:
            raise InvalidToken()
        session_id = RefreshTokens.session_id_of(token)
        session = await Session.with_user(session_id)
        if session is None:
            raise InvalidToken()
        self._check_live(session)
        if hmac.compare_digest(hash_token(token), session.refresh_hash):
            return session, session.generation
        oldest = max(0, session.generation - MAX_REMEMBERED_GENERATIONS)
        for generation in range(session.generation - 1, oldest - 1, -1):
            if hmac.compare_digest(self.refresh_tokens.derive(session_id, session.seed, generation), token):
                return session, generation
        raise InvalidToken()

    async def _advance(self, session: Session) -> str | None:
        generation = session.generation + 1
        successor = self.refresh_tokens.derive(str(session.id), session.seed, generation)
        moment = now()
        expires_at = moment + timedelta(seconds=self.settings.refresh_token_ttl)
        # Optimistic concurrency: only one of two racing refreshes moves the generation.
        move = Advance(str(session.id), generation, hash_token(successor), moment, expires_at)
        if not await self.rotations.advance(move):
            return None
        session.generation, session.expires_at, session.last_used_at = generation, expires_at, moment
        return successor

    def _within_reuse_interval(self, session: Session) -> bool:
        rotated_at = session.rotated_at or session.created_at
        return (now() - rotated_at).total_seconds() <= self.settings.refresh_token_reuse_interval

    def _check_live(self, session: Session) -> None:
        if session.revoked_at is not None:
            raise InvalidToken()
        if session.expires_at <= now():
            raise TokenExpired()
        session.user.check_can_sign_in()

    def _issue(self, user: User, session: Session, refresh_token: str) -> IssuedTokens:
        access, expires = self.access.issue(str(user.id), str(session.id), str(user.role))
        return IssuedTokens(access, expires, refresh_token, user, str(session.id))


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidToken() from None
