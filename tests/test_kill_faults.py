"""`kill -9` in the middle of a mixed load, then a restart on the same database: whatever
the server acknowledged is there, and nothing it did not acknowledge half-exists."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import DATABASE_URL, ON_POSTGRES
from tests.faults import Load, client, emails_of, fresh_domain, half_written, refresh, sign_in, tokens
from tests.served import served
from tests.test_database_faults import record

pytestmark = pytest.mark.faults

# Long enough for a restart: a refresh the server rotated but never answered (the kill
# came first) is retried after it with the token before, which gets the same successor.
REUSE_INTERVAL = 5.0


async def test_kill_9_under_load_then_restart(tmp_path: Path, fault_figures: Counter[str]) -> None:
    database_url = DATABASE_URL if ON_POSTGRES else f"sqlite://{tmp_path}/served.db"
    settings = {
        "DATABASE_URL": database_url,
        "RATE_LIMITER_ENABLED": "false",
        "REFRESH_TOKEN_REUSE_INTERVAL": f"{int(REUSE_INTERVAL)}s",
    }
    domain = fresh_domain()
    first = tmp_path / "first"
    first.mkdir()
    with served(first, migrate=not ON_POSTGRES, **settings) as server:
        load = Load(server.base_url, domain)
        running = asyncio.create_task(load.run())
        await asyncio.sleep(2.0)
        server.process.kill()  # SIGKILL: no shutdown, no flush, requests in flight
        killed_at = time.monotonic()
        server.process.wait(timeout=5)
        load.stop.set()
        await asyncio.wait_for(running, timeout=15)
    assert load.signed_up and load.chains and load.acknowledged_refreshes

    second = tmp_path / "second"
    second.mkdir()
    with served(second, **settings) as server:
        async with client(server.base_url) as http:
            # Every session's latest acknowledged refresh token works (first: a token whose
            # refresh was rotated unheard is honoured within the reuse interval only).
            successors = []
            for chain in load.chains:
                answer = await refresh(http, chain.latest)
                assert answer.ok, (chain.email, chain.uncertain, answer.code)
                successors.append(tokens(answer)["refresh_token"])
            checked_at = time.monotonic()
            took = checked_at - killed_at
            assert took < REUSE_INTERVAL, f"restarting and checking took {took:.1f} s, over the reuse interval"
            # Every acknowledged sign-up signs in.
            for email in load.signed_up:
                assert (await sign_in(http, email)).ok, email
            # The token each of those replaced, presented after the reuse interval, is taken
            # for a stolen copy: INVALID_TOKEN, and its session ends (the successor too).
            await asyncio.sleep(REUSE_INTERVAL + 0.5 - (time.monotonic() - checked_at))
            for chain, successor in zip(load.chains, successors, strict=True):
                replayed = await refresh(http, chain.latest)
                assert (replayed.status, replayed.code) == (401, "INVALID_TOKEN"), chain.email
                assert (await refresh(http, successor)).code == "INVALID_TOKEN", chain.email

    # Nothing unacknowledged half-exists: a sign-up in flight at the kill is there whole
    # (a way to sign in) or not at all; no session outlives its user or its rotation.
    remains = await half_written(database_url, domain)
    assert remains.none, remains
    in_flight = await emails_of(database_url, domain) - set(load.signed_up)
    assert in_flight <= set(load.unacknowledged)
    record(fault_figures, load, len(load.signed_up) + 3 * len(load.chains))
    fault_figures["unacknowledged writes found whole"] += len(in_flight) + sum(c.uncertain for c in load.chains)
