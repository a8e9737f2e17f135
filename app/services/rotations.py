"""Group commit for refreshes: the session moves of refreshes that arrive together are
written together, in one statement and one commit.

A refresh's answer waits for its own write to commit, as before; what changes is that while
one write is in flight, the refreshes arriving meanwhile queue up and go in the next one.
Nothing waits on a timer, so a lone refresh costs what it did. Under load, SQLite pays one
fsync and PostgreSQL one round trip for many refreshes instead of one each.

A group write never waits for a row another transaction holds (PostgreSQL): it skips it, and
that session is written on its own, beside the group, waiting for its row as one refresh's
UPDATE always did. So one held row delays only its own refresh, and a group write, which
locks many rows, cannot deadlock with a writer locking them in another order.
"""

from __future__ import annotations

import asyncio

from tortoise import connections
from tortoise.backends.base.client import TransactionalDBClient

from app.models.session import Advance, Session

# A bound on one statement's size; more wait for the next write.
MAX_BATCH = 256


class Rotations:
    def __init__(self) -> None:
        self._queue: list[tuple[Advance, asyncio.Future[bool]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._alone: set[asyncio.Task[None]] = set()

    async def advance(self, move: Advance) -> bool:
        """A session's move, in the next group write: False when the session had already
        moved, or was revoked or expired meanwhile."""
        if isinstance(connections.get("default"), TransactionalDBClient):
            # Inside a transaction the move belongs to it (and rolls back with it); the group
            # writer, which inherits its first caller's context, must never see one.
            return await Session.advance_one(move)
        moved: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append((move, moved))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_all())
        return await moved

    async def _write_all(self) -> None:
        try:
            while self._queue:
                batch = self._next_batch()
                try:
                    moved, busy = await Session.advance_many([move for move, _ in batch])
                except Exception as error:  # every waiter of this write gets its failure
                    for _, waiter in batch:
                        if not waiter.done():
                            waiter.set_exception(error)
                    continue
                except BaseException:  # shutting down: nobody is left hanging
                    for _, waiter in batch + self._queue:
                        waiter.cancel()
                    self._queue = []
                    raise
                for move, waiter in batch:
                    if move.session_id in busy:
                        task = asyncio.create_task(self._write_alone(move, waiter))
                        self._alone.add(task)  # held until done: the loop keeps weak references
                        task.add_done_callback(self._alone.discard)
                    elif not waiter.done():  # a cancelled request no longer waits
                        waiter.set_result(move.session_id in moved)
        finally:
            self._writer = None

    @staticmethod
    async def _write_alone(move: Advance, waiter: asyncio.Future[bool]) -> None:
        try:
            moved = await Session.advance_one(move)
        except Exception as error:
            if not waiter.done():
                waiter.set_exception(error)
            return
        except BaseException:
            waiter.cancel()
            raise
        if not waiter.done():
            waiter.set_result(moved)

    def _next_batch(self) -> list[tuple[Advance, asyncio.Future[bool]]]:
        """Up to MAX_BATCH queued moves, one per session: a second refresh of the same session
        waits for the next write, where it finds the generation moved (the reuse rules then
        decide, as for any two racing refreshes)."""
        batch: list[tuple[Advance, asyncio.Future[bool]]] = []
        later: list[tuple[Advance, asyncio.Future[bool]]] = []
        sessions: set[str] = set()
        for entry in self._queue:
            session_id = entry[0].session_id
            if len(batch) < MAX_BATCH and session_id not in sessions:
                sessions.add(session_id)
                batch.append(entry)
            else:
                later.append(entry)
        self._queue = later
        return batch
