"""Live sessions remembered in process: the answer of the one lookup an access token costs
(is its session live, and who is its user), kept for SESSION_CACHE_TTL so most requests
make no database round trip.

Correctness rests on invalidation, not on the TTL (a safety net only): every path that
revokes a session or writes a user row calls app/services/revocations.py, which forgets
here at once and tells the other instances (PostgreSQL NOTIFY). While this instance cannot
hear the others (the feed is down), `trusted` is off: nothing is served from here and
nothing is kept.
"""

from __future__ import annotations

import copy
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from app.models import User
from app.models.session import LiveRow


@dataclass
class LiveSession:
    user: User  # the snapshot; handed out as a copy (requests may set attributes on theirs)
    expires_at: datetime
    last_used_at: datetime | None
    # The refresh token's derivation (app/auth/tokens.py RefreshTokens): a refresh of the
    # current token is then one conditional UPDATE.
    seed: str
    generation: int
    kept_until: float  # time.monotonic()

    def user_copy(self) -> User:
        return copy.copy(self.user)


class LiveSessions:
    """Session id -> LiveSession, least recently used first, at most `maxsize` entries."""

    def __init__(self, ttl: float, *, maxsize: int = 4096, trusted: bool = True) -> None:
        self.ttl = ttl
        self.maxsize = maxsize
        self.trusted = trusted
        self.entries: OrderedDict[str, LiveSession] = OrderedDict()
        self.by_user: dict[str, set[str]] = {}
        # Moves on every invalidation: a lookup that began before one may have read what it
        # invalidated, so its answer is not kept (see `put`).
        self.epoch = 0

    def get(self, session_id: str) -> LiveSession | None:
        if not self.trusted:
            return None
        entry = self.entries.get(session_id)
        if entry is None:
            return None
        if entry.kept_until < time.monotonic():
            self._drop(session_id)
            return None
        self.entries.move_to_end(session_id)
        return entry

    def put(self, session_id: str, row: LiveRow, epoch: int) -> None:
        """Keep a lookup's answer, unless something was invalidated since `epoch` was read."""
        if not self.trusted or epoch != self.epoch or self.ttl <= 0:
            return
        self._drop(session_id)
        user = row.user
        kept_until = time.monotonic() + self.ttl
        self.entries[session_id] = LiveSession(
            user, row.expires_at, row.last_used_at, row.seed, row.generation, kept_until
        )
        self.by_user.setdefault(str(user.id), set()).add(session_id)
        while len(self.entries) > self.maxsize:
            self._drop(next(iter(self.entries)))

    def forget_session(self, session_id: str) -> None:
        self.epoch += 1
        self._drop(session_id)

    def forget_user(self, user_id: str) -> None:
        self.epoch += 1
        for session_id in self.by_user.pop(user_id, set()):
            self.entries.pop(session_id, None)

    def update_user(self, user_id: str, values: dict[str, object]) -> None:
        """Set fields of the user's remembered snapshots (fields that decide nothing)."""
        for session_id in self.by_user.get(user_id, ()):
            for name, value in values.items():
                setattr(self.entries[session_id].user, name, value)

    def clear(self) -> None:
        self.epoch += 1
        self.entries.clear()
        self.by_user.clear()

    def distrust(self) -> None:
        """The invalidation feed is down: serve nothing from here until it is back."""
        self.trusted = False
        self.clear()

    def trust(self) -> None:
        """The feed is (back) up: start from empty, since invalidations may have been missed."""
        self.clear()
        self.trusted = True

    def _drop(self, session_id: str) -> None:
        entry = self.entries.pop(session_id, None)
        if entry is not None:
            user_id = str(entry.user.id)
            sessions = self.by_user.get(user_id)
            if sessions is not None:
                sessions.discard(session_id)
                if not sessions:
                    del self.by_user[user_id]
