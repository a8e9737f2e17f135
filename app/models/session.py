from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple
from uuid import UUID

from tortoise import connections, fields
from tortoise.models import Model

if TYPE_CHECKING:
    from app.models.user import User


class Advance(NamedTuple):
    """One refresh's move of its session to `generation` (see `Session.advance_many`)."""

    session_id: str
    generation: int
    refresh_hash: str
    now: datetime
    expires_at: datetime


class LiveRow(NamedTuple):
    user: User
    expires_at: datetime
    last_used_at: datetime | None
    seed: str
    generation: int


class Session(Model):
    """One signed-in device. The refresh token is never stored, only its sha256."""

    id = fields.UUIDField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="sessions", on_delete=fields.CASCADE
    )
    user_id: UUID
    # Refresh tokens are derived from (seed, generation) with the server secret (see
    # RefreshTokens); only the current one's sha256 is kept.
    seed = fields.CharField(max_length=64)
    generation = fields.IntField(default=0)
    refresh_hash = fields.CharField(max_length=64, unique=True)
    rotated_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)  # when it signed in
    # The last time it proved the credentials again (password or OTP): with created_at,
    # how recently this session authenticated, which minting an API token requires.
    reauthenticated_at = fields.DatetimeField(null=True)
    last_used_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)
    ip = fields.CharField(max_length=45, null=True)
    user_agent = fields.CharField(max_length=512, null=True)

    class Meta:
        table = "sessions"

    def is_live(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now

    @classmethod
    async def live_user(cls, session_id: str, now: datetime) -> LiveRow | None:
        """The user of a live session with what the live-session cache keeps of the session,
        in one indexed lookup: the per-request cost of an access token the cache does not
        know. Hand-written SQL: building the equivalent queryset costs more than running it."""
        connection = connections.get("default")
        placeholder = "$1" if connection.capabilities.dialect == "postgres" else "?"
        rows = await connection.execute_query_dict(_LIVE_USER_SQL.format(placeholder=placeholder), [session_id])
        if not rows:
            return None
        row = rows[0]
        expires_at = _DATETIME.to_python_value(row.pop("session_expires_at"))
        last_used_at = _DATETIME.to_python_value(row.pop("session_last_used_at"))
        revoked_at = row.pop("session_revoked_at")
        seed, generation = row.pop("session_seed"), row.pop("session_generation")
        if revoked_at is not None or expires_at is None or expires_at <= now:
            return None
        if last_used_at is None or (now - last_used_at).total_seconds() > TOUCH_INTERVAL:
            last_used_at = now
            await cls.touch(session_id, now)
        from app.models.user import User

        return LiveRow(User._init_from_db(**row), expires_at, last_used_at, seed, generation)

    @classmethod
    async def with_user(cls, session_id: str) -> Session | None:
        """The session and its user in one statement (a refresh's read), whatever its state.
        Hand-written like `live_user`: the select_related queryset cost more than the query."""
        connection = connections.get("default")
        rows = await connection.execute_query_dict(_WITH_USER_SQL.format(*_placeholders(connection, 1)), [session_id])
        if not rows:
            return None
        row = rows[0]
        own = {name: row.pop(f"s__{name}") for name in _SESSION_COLUMNS}
        from app.models.user import User

        session = cls._init_from_db(**own)
        session.user = User._init_from_db(**row)
        return session

    @classmethod
    async def advance_many(cls, moves: Sequence[Advance]) -> tuple[set[str], set[str]]:
        """Move each live session from `generation - 1` to `generation`, in one statement (and
        one commit). Optimistic concurrency: of two racing refreshes, one moves it; a session
        that had already moved, or was revoked or expired meanwhile, does not, and never holds
        back another. The ids must be distinct.

        (moved, busy): the ids that moved, and on PostgreSQL those whose rows another
        transaction held, which the statement skipped instead of waiting for (a group write
        that waited would hold every other refresh in it, and could deadlock with a writer
        locking the same rows in another order): `advance_one` writes each of them."""
        connection = connections.get("default")
        if connection.capabilities.dialect == "postgres":
            rows = await connection.execute_query_dict(_ADVANCE_MANY_POSTGRES, _arrays(moves))
            moved = {str(row["id"]) for row in rows if row["moved"]}
            return moved, {str(row["id"]) for row in rows if row["busy"]}
        # SQLite has no arrays: the moves travel as one JSON parameter, with datetimes in the
        # text form sqlite3 stores them in. It locks the whole file, never rows.
        payload = json.dumps(
            [
                [m.session_id, m.generation, m.refresh_hash, m.now.isoformat(" "), m.expires_at.isoformat(" ")]
                for m in moves
            ]  # fmt: skip
        )
        rows = await connection.execute_query_dict(_ADVANCE_MANY_SQLITE, [payload])
        return {str(row["id"]) for row in rows}, set()

    @classmethod
    async def advance_one(cls, move: Advance) -> bool:
        """One session's move, waiting for its row like any single-row UPDATE (it locks one
        row, so it cannot deadlock): for the sessions a group write found busy."""
        connection = connections.get("default")
        if connection.capabilities.dialect != "postgres":
            moved, _ = await cls.advance_many([move])
            return bool(moved)
        rows = await connection.execute_query_dict(_ADVANCE_ONE_POSTGRES, _arrays([move]))
        return bool(rows)

    @classmethod
    async def touch(cls, session_id: str, now: datetime) -> None:
        """Record a use: at most one write per session per TOUCH_INTERVAL, not one per request."""
        await cls.filter(id=session_id).update(last_used_at=now)


TOUCH_INTERVAL = 60
_DATETIME = Session._meta.fields_map["expires_at"]
_LIVE_USER_SQL = (
    "SELECT u.*, s.expires_at AS session_expires_at, s.revoked_at AS session_revoked_at, "
    "s.last_used_at AS session_last_used_at, s.seed AS session_seed, s.generation AS session_generation "
    "FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = {placeholder}"
)
_SESSION_COLUMNS = tuple(Session._meta.db_fields)
# Column names come from the model; every value is a parameter.
_WITH_USER_SQL = (
    "SELECT u.*, "  # noqa: S608
    + ", ".join(f"s.{name} AS s__{name}" for name in _SESSION_COLUMNS)
    + " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = {}"
)
_MOVES = (
    "SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::timestamptz[], $5::timestamptz[]) "
    "AS m(id, generation, refresh_hash, now, expires_at)"
)
_MOVE = (
    "UPDATE sessions AS s SET generation = m.generation, refresh_hash = m.refresh_hash, rotated_at = m.now, "
    "last_used_at = m.now, expires_at = m.expires_at FROM m "
    "WHERE s.id = m.id AND s.generation = m.generation - 1 AND s.revoked_at IS NULL AND s.expires_at > m.now"
)
# The rows are locked first, skipping those another transaction holds; only locked rows move.
# Constant fragments: every value is a parameter.
_ADVANCE_MANY_POSTGRES = (
    f"WITH m AS ({_MOVES}), "  # noqa: S608
    "free AS MATERIALIZED (SELECT id FROM sessions WHERE id IN (SELECT id FROM m) FOR UPDATE SKIP LOCKED), "
    f"moved AS ({_MOVE} AND s.id IN (SELECT id FROM free) RETURNING s.id) "
    "SELECT m.id, m.id IN (SELECT id FROM moved) AS moved, m.id NOT IN (SELECT id FROM free) AS busy FROM m"
)
_ADVANCE_ONE_POSTGRES = f"WITH m AS ({_MOVES}) {_MOVE} RETURNING s.id"
_ADVANCE_MANY_SQLITE = (
    "UPDATE sessions SET generation = json_extract(m.value, '$[1]'), refresh_hash = json_extract(m.value, '$[2]'), "
    "rotated_at = json_extract(m.value, '$[3]'), last_used_at = json_extract(m.value, '$[3]'), "
    "expires_at = json_extract(m.value, '$[4]') "
    "FROM json_each(?) AS m "
    "WHERE sessions.id = json_extract(m.value, '$[0]') AND sessions.generation = json_extract(m.value, '$[1]') - 1 "
    "AND sessions.revoked_at IS NULL AND sessions.expires_at > json_extract(m.value, '$[3]') "
    "RETURNING sessions.id"
)


def _arrays(moves: Sequence[Advance]) -> list[list[Any]]:
    """The moves as the five arrays `_MOVES` unnests, one per field."""
    return [[move[field] for move in moves] for field in range(len(Advance._fields))]


def _placeholders(connection: Any, count: int) -> list[str]:
    if connection.capabilities.dialect == "postgres":
        return [f"${n}" for n in range(1, count + 1)]
    return ["?"] * count
