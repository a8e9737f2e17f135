"""Group commit of refreshes (app/services/rotations.py): refreshes that arrive together are
written in one statement, and each still gets exactly its own answer: every live session moves
once, a session that may not move does not, and the race rules of the contract hold."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from app.auth.secrets import hash_token
from app.auth.tokens import RefreshTokens
from app.models import Session
from app.models.session import Advance
from app.services.revocations import in_transaction
from tests.conftest import DATABASE_URL, ON_POSTGRES, Api, codes
from tests.test_refresh_and_logout import refresh

ME = "{ users_me { id email } }"


async def test_refreshes_arriving_together_share_a_write_and_each_get_their_own_successor(
    api: Api, caplog: Any
) -> None:
    await api.signup()
    firsts = [await api.login() for _ in range(12)]
    with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
        answers = await asyncio.gather(*(refresh(api, first["refresh_token"]) for first in firsts))
    assert all("errors" not in answer for answer in answers), answers
    successors = [answer["data"]["auth_refresh"] for answer in answers]
    assert len({s["refresh_token"] for s in successors}) == 12
    writes = [r for r in caplog.records if "UPDATE sessions" in r.getMessage()]
    assert 1 <= len(writes) < 12  # grouped, not one write per refresh
    sessions = await Session.all()
    assert sorted(s.generation for s in sessions) == [1] * 12
    # Each successor is its session's current token: it refreshes again, and its access works.
    again = await asyncio.gather(*(refresh(api, s["refresh_token"]) for s in successors))
    assert all("errors" not in answer for answer in again), again
    for s in successors:
        assert (await api.gql(ME, token=s["access_token"]))["data"]["users_me"] is not None
    # The tokens they replaced are spent: presented after the reuse interval, they are theft.
    assert sorted(s.generation for s in await Session.all()) == [2] * 12


async def test_one_write_moves_only_the_sessions_that_may_move(api: Api) -> None:
    await api.signup()
    for _ in range(4):
        await api.login()
    live, moved_on, revoked, expired = await Session.all().order_by("id")
    moment = datetime.now(UTC)
    await Session.filter(id=moved_on.id).update(generation=5)
    await Session.filter(id=revoked.id).update(revoked_at=moment)
    await Session.filter(id=expired.id).update(expires_at=moment - timedelta(seconds=1))
    later = moment + timedelta(days=1)
    sessions = (live, moved_on, revoked, expired)
    moves = [Advance(str(s.id), 1, hash_token(f"next-{s.id}"), moment, later) for s in sessions]

    assert await Session.advance_many(moves) == ({str(live.id)}, set())

    rows = {str(s.id): s for s in await Session.all()}
    assert rows[str(live.id)].generation == 1
    assert rows[str(live.id)].refresh_hash == hash_token(f"next-{live.id}")
    assert abs((rows[str(live.id)].expires_at - later).total_seconds()) < 0.001
    for untouched in (moved_on, revoked, expired):
        row = rows[str(untouched.id)]
        assert row.refresh_hash == untouched.refresh_hash and row.rotated_at is None
    assert await Session.advance_many([]) == (set(), set())


async def test_the_same_token_twice_in_one_burst_gets_one_successor(api: Api) -> None:
    await api.signup()
    tokens = [await api.login() for _ in range(3)]
    # Two tabs of the first session refresh at once, among other sessions' refreshes.
    burst = [tokens[0], tokens[1], tokens[0], tokens[2], tokens[0]]
    answers = await asyncio.gather(*(refresh(api, t["refresh_token"]) for t in burst))
    assert all("errors" not in a for a in answers), answers
    successors = [a["data"]["auth_refresh"]["refresh_token"] for a in answers]
    assert successors[0] == successors[2] == successors[4]
    assert len(set(successors)) == 3
    assert sorted(s.generation for s in await Session.all()) == [1, 1, 1]


async def test_a_revoked_session_in_a_burst_is_refused_and_the_others_move(api: Api) -> None:
    await api.signup()
    tokens = [await api.login() for _ in range(3)]
    await api.gql("mutation($t: String) { auth_logout(refresh_token: $t) }", {"t": tokens[1]["refresh_token"]})
    answers = await asyncio.gather(*(refresh(api, t["refresh_token"]) for t in tokens))
    assert codes(answers[1]) == ["INVALID_TOKEN"]
    assert "errors" not in answers[0] and "errors" not in answers[2]
    assert sorted(s.generation for s in await Session.all()) == [0, 1, 1]


@pytest.mark.skipif(not ON_POSTGRES, reason="row locks: set TEST_DATABASE_URL=postgres://... to run")
async def test_a_session_row_held_elsewhere_delays_only_its_own_refresh(app_with: Any) -> None:
    """A group write skips a row another transaction holds (it would otherwise wait with every
    refresh in it, and could deadlock with a writer locking the same rows in another order);
    that session is written on its own, waiting for its row as one refresh always did."""
    async with app_with(DATABASE_TIMEOUT="2s") as api:
        await api.signup()
        held, free = [await api.login() for _ in range(2)]
        holder = await asyncpg.connect(DATABASE_URL.replace("postgres://", "postgresql://", 1))
        try:
            await holder.execute("BEGIN")
            await holder.execute(
                "UPDATE sessions SET last_used_at = now() WHERE id = $1",
                RefreshTokens.session_id_of(held["refresh_token"]),
            )
            of_held = asyncio.create_task(refresh(api, held["refresh_token"]))
            # Answered while the other row is still held (the bound only keeps a regression
            # from hanging the suite).
            of_free = await asyncio.wait_for(refresh(api, free["refresh_token"]), timeout=30)
            assert "errors" not in of_free, of_free
            assert not of_held.done()
            # The held row outlasts DATABASE_TIMEOUT: its own refresh fails, and only it.
            assert codes(await of_held) == ["SERVICE_UNAVAILABLE"]
        finally:
            await holder.execute("ROLLBACK")
            await holder.close()
        # Nothing moved for the held session: its token is still current.
        again = await refresh(api, held["refresh_token"])
        assert "errors" not in again, again
        assert sorted(s.generation for s in await Session.all()) == [1, 1]


class _Undo(Exception):
    pass


@pytest.mark.skipif(not ON_POSTGRES, reason="SQLite's one connection waits for the transaction to end")
async def test_a_refresh_inside_a_transaction_takes_no_other_refresh_into_it(api: Api) -> None:
    """A move made inside a caller's transaction belongs to it and rolls back with it; the
    group writer never starts there, or other clients' refreshes would be written on that
    transaction's connection and rolled back with it after they were answered."""
    await api.signup()
    mine, theirs = [(await api.login())["refresh_token"] for _ in range(2)]
    go = asyncio.Event()

    async def their_refresh() -> dict[str, Any]:
        await go.wait()
        return await refresh(api, theirs)

    other = asyncio.create_task(their_refresh())  # outside the transaction
    with pytest.raises(_Undo):
        async with in_transaction():
            rotating = asyncio.create_task(api.services.sessions.rotate(mine))
            await asyncio.sleep(0)
            go.set()
            answer = await other
            assert (await rotating).refresh_token != mine
            raise _Undo
    assert "errors" not in answer, answer
    successor = answer["data"]["auth_refresh"]["refresh_token"]
    # Their answer was committed: its successor is the current token.
    assert "errors" not in await refresh(api, successor)
    # Mine rolled back: my old token is still the current one.
    assert "errors" not in await refresh(api, mine)
