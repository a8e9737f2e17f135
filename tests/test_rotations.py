"""Group commit of refreshes (app/services/rotations.py): refreshes that arrive together are
written in one statement, and each still gets exactly its own answer: every live session moves
once, a session that may not move does not, and the race rules of the contract hold."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from app.auth.secrets import hash_token
from app.models import Session
from app.models.session import Advance
from tests.conftest import Api, codes
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

    assert await Session.advance_many(moves) == {str(live.id)}

    rows = {str(s.id): s for s in await Session.all()}
    assert rows[str(live.id)].generation == 1
    assert rows[str(live.id)].refresh_hash == hash_token(f"next-{live.id}")
    assert abs((rows[str(live.id)].expires_at - later).total_seconds()) < 0.001
    for untouched in (moved_on, revoked, expired):
        row = rows[str(untouched.id)]
        assert row.refresh_hash == untouched.refresh_hash and row.rotated_at is None
    assert await Session.advance_many([]) == set()


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
