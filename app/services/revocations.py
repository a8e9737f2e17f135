"""The one way to say "what the live-session cache remembers is no longer true": a session
was revoked, or a user row changed (status, role, password, email, anything a viewer
shows). Services call `forget_session` / `forget_user` right after the write; a saved or
deleted User is forgotten by the model signals below, so `user.save()` cannot forget.

Each call forgets in this process at once, again after the enclosing transaction commits
(use `in_transaction` from here: a request that read the row before the commit could
otherwise keep the old answer), and on PostgreSQL sends a NOTIFY inside the same
transaction, which every instance's feed (app/services/invalidation_feed.py) receives when
it commits. SQLite serves one process: local forgetting is all there is.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any
from uuid import UUID

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.signals import post_delete, post_save
from tortoise.transactions import in_transaction as _tortoise_transaction

from app.models import User
from app.services.live_sessions import LiveSessions

CHANNEL = "auth_revocations"

_caches: weakref.WeakSet[LiveSessions] = weakref.WeakSet()
# Inside `in_transaction`: what to forget again once it has committed.
_pending: ContextVar[list[str] | None] = ContextVar("revocations_pending", default=None)


def register(cache: LiveSessions) -> None:
    """Every cache in this process hears every invalidation (tests run several apps)."""
    _caches.add(cache)


async def forget_session(session_id: str | UUID) -> None:
    await _forget(f"s:{session_id}")


async def forget_user(user_id: str | UUID) -> None:
    """The user's row changed or their sessions were revoked: all their sessions go."""
    await _forget(f"u:{user_id}")


def apply(message: str) -> None:
    """A message of ours (`s:<session id>`, `u:<user id>`), from this process or the feed;
    anything else clears everything (never keep what might be stale)."""
    kind, _, key = message.partition(":")
    for cache in list(_caches):
        if kind == "s" and key:
            cache.forget_session(key)
        elif kind == "u" and key:
            cache.forget_user(key)
        else:
            cache.clear()


@asynccontextmanager
async def in_transaction() -> AsyncIterator[BaseDBAsyncClient]:
    """Tortoise's transaction, after whose commit this process forgets again what was
    forgotten inside it."""
    pending = _pending.get()
    token = _pending.set([]) if pending is None else None
    try:
        async with _tortoise_transaction() as connection:
            yield connection
        if token is not None:
            for message in _pending.get() or []:
                apply(message)
    finally:
        if token is not None:
            _pending.reset(token)


async def _forget(message: str) -> None:
    apply(message)
    pending = _pending.get()
    if pending is not None:
        pending.append(message)
    connection = connections.get("default")
    if connection.capabilities.dialect == "postgres":
        # In the caller's transaction when there is one: delivered when it commits.
        await connection.execute_query("SELECT pg_notify($1, $2)", [CHANNEL, message])


# Saved on every sign-in and changes no decision: remembered copies are updated in place
# on this instance rather than forgotten (forgetting on each sign-in made every signed-in
# request of the account look up again during a sign-in storm). Other instances show it up
# to SESSION_CACHE_TTL late.
UPDATED_IN_PLACE = frozenset({"last_login_at"})


@post_save(User)
async def _user_saved(
    sender: type[User], instance: User, created: bool, using_db: Any, update_fields: list[str] | None
) -> None:
    if created:
        return
    if update_fields and set(update_fields) <= UPDATED_IN_PLACE:
        values = {name: getattr(instance, name) for name in update_fields}
        for cache in list(_caches):
            cache.update_user(str(instance.id), values)
        return
    await forget_user(instance.id)


@post_delete(User)
async def _user_deleted(sender: type[User], instance: User, *_: Any) -> None:
    await forget_user(instance.id)
