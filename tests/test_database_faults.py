"""The database goes away under load and comes back: a server process (`python -m app serve`)
reaches PostgreSQL through a relay of the test's own, which the test cuts for two seconds
while clients sign up, sign in and refresh. Requests in the cut are SERVICE_UNAVAILABLE
within a bound, nothing acknowledged is lost, nothing is half-written, and service comes
back by itself. SQLite's counterpart: the database file locked by another process."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.conftest import DATABASE_URL, ON_POSTGRES
from tests.faults import (
    Answer,
    Load,
    Relay,
    client,
    create_user,
    fresh_domain,
    half_written,
    refresh,
    sign_in,
    tokens,
)
from tests.served import served

pytestmark = pytest.mark.faults

DATABASE_TIMEOUT = 1.0
# No request may take longer than this, in the outage or out of it: a request meets the
# timeout at most twice (waiting for a pooled connection, then its statement).
ANSWER_BOUND = 2 * DATABASE_TIMEOUT + 1.5
# After the database is back, a request must succeed within this.
RESUME_BOUND = 5.0
OUTAGE_SECONDS = 3.0


def through(database_url: str, port: int) -> str:
    """`database_url` with its host and port replaced by the relay's."""
    parts = urlsplit(database_url)
    user = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{port}" if user else f"127.0.0.1:{port}"))


def unavailable(answer: Answer) -> bool:
    """SERVICE_UNAVAILABLE as each transport says it: 503 on REST, the code in GraphQL's errors."""
    rest = answer.kind != "createUser"
    return answer.code == "SERVICE_UNAVAILABLE" and (answer.status == 503 if rest else answer.status == 200)


async def probe_health(base_url: str, stop: asyncio.Event, seen: list[tuple[float, int]]) -> None:
    async with client(base_url) as http:
        while not stop.is_set():
            started = time.monotonic()
            response = await http.get("/health")
            seen.append((started, response.status_code))
            await asyncio.sleep(0.1)


@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL behind a relay; set TEST_DATABASE_URL=postgres://... to run")
@pytest.mark.parametrize("fault", ["cut", "stall"])
async def test_postgres_goes_away_under_load_and_comes_back(
    tmp_path: Path, fault: str, fault_figures: Counter[str]
) -> None:
    """`cut`: connections reset and new ones refused (the database restarts, or its host
    dies); `stall`: connections stay open and nothing answers (a partition), which only
    DATABASE_TIMEOUT bounds."""
    upstream = urlsplit(DATABASE_URL)
    with Relay(upstream.port or 5432, upstream.hostname or "127.0.0.1") as relay:
        settings = {
            "DATABASE_URL": through(DATABASE_URL, relay.port),
            "DATABASE_TIMEOUT": f"{round(DATABASE_TIMEOUT * 1000)}ms",
            "RATE_LIMITER_ENABLED": "false",
            # Longer than the test: a refresh rotated unheard in the outage is retried
            # with the token before it, which gets the same successor.
            "REFRESH_TOKEN_REUSE_INTERVAL": "60s",
        }
        with served(tmp_path, **settings) as server:
            domain = fresh_domain()
            load = Load(server.base_url, domain)
            health: list[tuple[float, int]] = []
            running = asyncio.gather(load.run(), probe_health(server.base_url, load.stop, health))
            await asyncio.sleep(1.0)
            cut_at = time.monotonic()
            relay.cut() if fault == "cut" else relay.stall()
            await asyncio.sleep(OUTAGE_SECONDS)
            restored_at = time.monotonic()
            relay.restore()
            await asyncio.sleep(1.5)
            load.stop.set()
            await asyncio.wait_for(running, timeout=ANSWER_BOUND * 2)

            answers = load.answers
            assert answers and max(a.seconds for a in answers) <= ANSWER_BOUND, max(a.seconds for a in answers)
            failed = [a for a in answers if not a.ok]
            assert failed and all(unavailable(a) for a in failed), {(a.kind, a.status, a.code) for a in failed}
            # Requests sent in the outage were refused; none sent and answered in it succeeded.
            # (One sent just before may succeed late: its writes were in, and only its audit
            # record, which never fails a sign-in, met the timeout.)
            refused = [a for a in answers if cut_at <= a.started < restored_at and not a.ok]
            assert len(refused) >= load.clients
            succeeded = [a for a in load.between(cut_at + 0.05, restored_at) if a.ok]
            assert not succeeded, [(a.kind, a.started - cut_at) for a in succeeded]
            assert {status for at, status in health if cut_at + 0.05 <= at < restored_at - 2} <= {503}
            assert 503 in {status for at, status in health if cut_at <= at < restored_at}
            resumed = [a.started + a.seconds - restored_at for a in answers if a.ok and a.started >= restored_at]
            assert resumed and min(resumed) <= RESUME_BOUND
            assert [status for at, status in health if at >= restored_at][-1] == 200

            # Nothing acknowledged lost: every sign-up signs in, every chain's latest token
            # refreshes (its last refresh may have been rotated unheard: within the reuse
            # interval that token still gets the successor).
            async with client(server.base_url) as http:
                for email in load.signed_up:
                    assert (await sign_in(http, email)).ok, email
                for chain in load.chains:
                    answer = await refresh(http, chain.latest)
                    assert answer.ok, (chain.email, answer.code)
            assert (await half_written(DATABASE_URL, domain)).none

    record(fault_figures, load, len(health))


def record(figures: Counter[str], load: Load, other_requests: int = 0, faults: int = 1) -> None:
    figures["requests sent"] += len(load.answers) + other_requests
    figures["faults injected"] += faults
    # Each sign-up signed in, each session's latest acknowledged token refreshed.
    figures["acknowledged sign-ups checked"] += len(load.signed_up)
    figures["acknowledged sessions checked"] += len(load.chains)
    figures["acknowledged refreshes"] += load.acknowledged_refreshes
    figures["lost"] += 0  # a loss fails the test before this line


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's own file and lock; runs in the SQLite suite")
async def test_sqlite_locked_under_load_and_released(tmp_path: Path, fault_figures: Counter[str]) -> None:
    """Another process holds SQLite's write lock (`BEGIN EXCLUSIVE`) for two seconds: writes
    wait DATABASE_TIMEOUT (SQLite's busy timeout) and answer SERVICE_UNAVAILABLE, reads go on,
    and writes succeed again once the lock is released. (The server's one SQLite connection
    takes its requests' statements in turn, so a request may wait for each client's write
    before its own: the bound grows with the clients.)"""
    database = tmp_path / "served.db"
    settings = {"DATABASE_TIMEOUT": "500ms", "RATE_LIMITER_ENABLED": "false", "REFRESH_TOKEN_REUSE_INTERVAL": "60s"}
    with served(tmp_path, migrate=True, **settings) as server:
        domain = fresh_domain()
        database_url = f"sqlite://{database}"
        async with client(server.base_url) as http:
            assert (await create_user(http, f"reader@{domain}")).ok
            reader = await sign_in(http, f"reader@{domain}")
            assert reader.ok
            load = Load(server.base_url, domain, clients=2)
            running = asyncio.create_task(load.run())
            await asyncio.sleep(1.0)
            lock = sqlite3.connect(database, isolation_level=None, timeout=10)
            try:
                lock.execute("BEGIN EXCLUSIVE")
                locked_at = time.monotonic()
                me = await http.post(
                    "/graphql",
                    json={"query": "{ users_me { email } }"},
                    headers={"Authorization": f"Bearer {tokens(reader)['access_token']}"},
                )
                assert me.json() == {"data": {"users_me": {"email": f"reader@{domain}"}}}
                await asyncio.sleep(2.0)
            finally:
                lock.execute("COMMIT")
                lock.close()
            released_at = time.monotonic()
            await asyncio.sleep(1.5)
            load.stop.set()
            await asyncio.wait_for(running, timeout=10)

            answers = load.answers
            bound = (load.clients + 1) * 0.5 + 1.0
            assert max(a.seconds for a in answers) <= bound, max(a.seconds for a in answers)
            failed = [a for a in answers if not a.ok]
            assert failed and all(unavailable(a) for a in failed), {(a.kind, a.status, a.code) for a in failed}
            # Every request (each of them writes) sent and answered while the lock was held
            # was refused.
            in_lock = load.between(locked_at, released_at)
            assert in_lock and not [a for a in in_lock if a.ok], [(a.kind, a.code) for a in in_lock]
            resumed = [a.started + a.seconds - released_at for a in answers if a.ok and a.started >= released_at]
            assert resumed and min(resumed) <= RESUME_BOUND

            for email in load.signed_up:
                assert (await sign_in(http, email)).ok, email
            for chain in load.chains:
                answer = await refresh(http, chain.latest)
                assert answer.ok, (chain.email, answer.code)
        assert (await half_written(database_url, domain)).none
    record(fault_figures, load, 3)
