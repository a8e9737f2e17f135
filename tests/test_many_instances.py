"""Two instances (`python -m app serve` on two loopback ports) on one database and one Redis,
as behind a load balancer: a refresh token replayed on the other instance after the reuse
interval is taken for theft there, and rate limits and guessing budgets count once for all."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager

import httpx
import pytest

from tests.conftest import DATABASE_URL, ON_POSTGRES, flush_redis_db, redis_up
from tests.faults import Answer, client, create_user, fresh_domain, refresh, sign_in, tokens
from tests.served import Served, served

pytestmark = [pytest.mark.faults, pytest.mark.skipif(not redis_up(), reason="needs Redis on 127.0.0.1:6379")]

REDIS_DB = 3
POINTS = 5  # requests per client IP per minute, across both instances
BUDGET = 3  # wrong passwords per account, across both instances
_addresses = (f"198.51.100.{n}" for n in itertools.count(1))


@pytest.fixture(scope="module")
def instances(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Served]]:
    asyncio.run(flush_redis_db(REDIS_DB))  # no window left over from an earlier run
    shared = tmp_path_factory.mktemp("instances")
    settings = {
        "DATABASE_URL": DATABASE_URL if ON_POSTGRES else f"sqlite://{shared}/served.db",
        "RATE_LIMITER_ENABLED": "true",
        "RATE_LIMITER_STORE": "redis",
        "RATE_LIMITER_REDIS": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "RATE_LIMITER_POINTS": str(POINTS),
        "RATE_LIMITER_DURATION": "60",
        # The load balancer (the test) is on loopback: X-Forwarded-For names the client.
        "IP_TRUST_PROXY": "127.0.0.1",
        "LOGIN_ATTEMPTS_PER_ACCOUNT": str(BUDGET),
        "REFRESH_TOKEN_REUSE_INTERVAL": "1s",
    }
    with ExitStack() as stack:
        directories = [tmp_path_factory.mktemp(name) for name in ("a", "b")]
        a = stack.enter_context(served(directories[0], migrate=not ON_POSTGRES, **settings))
        b = stack.enter_context(served(directories[1], **settings))
        yield a, b


def behind_balancer(server: Served, address: str) -> httpx.AsyncClient:
    """A client of `server` as the load balancer forwards it: from `address`."""
    return client(server.base_url, headers={"X-Forwarded-For": address})


@asynccontextmanager
async def both(instances: tuple[Served, Served], address: str) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    """A client of each instance, from one address."""
    async with behind_balancer(instances[0], address) as on_a, behind_balancer(instances[1], address) as on_b:
        yield on_a, on_b


async def test_a_refresh_token_replayed_on_another_instance(
    instances: tuple[Served, Served], fault_figures: Counter[str]
) -> None:
    email = f"ana@{fresh_domain()}"
    async with both(instances, next(_addresses)) as (on_a, on_b):
        assert (await create_user(on_a, email)).ok
        first = tokens(await sign_in(on_a, email))["refresh_token"]
        # Two tabs at once, on different instances: the same successor for both.
        rotated = await refresh(on_a, first)
        again = await refresh(on_b, first)
        assert rotated.ok and again.ok
        second = tokens(rotated)["refresh_token"]
        assert tokens(again)["refresh_token"] == second

    async with both(instances, next(_addresses)) as (on_a, on_b):  # a fresh allowance of requests
        third = await refresh(on_a, second)
        assert third.ok
        await asyncio.sleep(1.2)  # past REFRESH_TOKEN_REUSE_INTERVAL
        # A copy of the rotated token, replayed on B: theft. The session ends everywhere.
        replayed = await refresh(on_b, second)
        assert (replayed.status, replayed.code) == (401, "INVALID_TOKEN")
        successor = await refresh(on_a, tokens(third)["refresh_token"])
        assert (successor.status, successor.code) == (401, "INVALID_TOKEN")
    fault_figures["requests sent"] += 8


async def test_refreshes_racing_on_both_instances_get_one_successor_per_session(
    instances: tuple[Served, Served], fault_figures: Counter[str]
) -> None:
    """Each instance writes the refreshes it receives in groups; the same token presented at
    once on both (and several times on each) still moves its session once, and every answer
    carries that one successor."""
    domain = fresh_domain()
    firsts = []
    for n in range(4):
        async with behind_balancer(instances[0], next(_addresses)) as on_a:
            assert (await create_user(on_a, f"user{n}@{domain}")).ok
            firsts.append(tokens(await sign_in(on_a, f"user{n}@{domain}"))["refresh_token"])

    async def present(server: Served, token: str) -> Answer:
        async with behind_balancer(server, next(_addresses)) as http:  # an address each: no rate limit
            return await refresh(http, token)

    presented = [(first, server) for first in firsts for server in instances * 3]
    answers = await asyncio.gather(*(present(server, first) for first, server in presented))
    assert all(answer.ok for answer in answers), [(a.status, a.code) for a in answers if not a.ok]
    successors: dict[str, set[str]] = {}
    for (first, _), answer in zip(presented, answers, strict=True):
        successors.setdefault(first, set()).add(tokens(answer)["refresh_token"])
    assert all(len(each) == 1 for each in successors.values()), successors
    # Each one successor is its session's current token, on either instance.
    again = await asyncio.gather(
        *(present(instances[n % 2], next(iter(each))) for n, each in enumerate(successors.values()))
    )
    assert all(answer.ok for answer in again)
    fault_figures["requests sent"] += 8 + len(presented) + len(again)


async def test_rate_limits_count_once_across_instances(
    instances: tuple[Served, Served], fault_figures: Counter[str]
) -> None:
    async with both(instances, next(_addresses)) as (on_a, on_b):
        sent = [(on_a if n % 2 else on_b).get("/auth") for n in range(2 * POINTS)]
        statuses = Counter(response.status_code for response in await asyncio.gather(*sent))
    assert statuses == {200: POINTS, 429: POINTS}
    fault_figures["requests sent"] += 2 * POINTS


async def test_guessing_budget_counts_once_across_instances(
    instances: tuple[Served, Served], fault_figures: Counter[str]
) -> None:
    a, b = instances
    email = f"ana@{fresh_domain()}"
    async with behind_balancer(a, next(_addresses)) as on_a:
        assert (await create_user(on_a, email)).ok

    async def guess(server: Served, n: int) -> Answer:
        # Each guess from an address of its own: the per-IP limit stays out of the way.
        async with behind_balancer(server, next(_addresses)) as http:
            return await sign_in(http, email, f"wrong guess {n}")

    answers = await asyncio.gather(*(guess(a if n % 2 else b, n) for n in range(2 * BUDGET)))
    assert Counter(answer.code for answer in answers) == {"INVALID_CREDENTIALS": BUDGET, "REQUESTS_EXCEEDED": BUDGET}
    fault_figures["requests sent"] += 2 * BUDGET + 1
