"""WORKERS=N: N server processes on one machine, whose metrics add up whichever answers."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.served import ROOT, environment, served


def _live(base_url: str) -> int:
    # A new connection each time, so that the kernel hands it to either worker.
    return httpx.get(f"{base_url}/health/live", headers={"Connection": "close"}, timeout=5).status_code


def _requests_counted(text: str, route: str = "/health/live") -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "http_requests_total" and sample.labels.get("route") == route
    )


def _per_worker(directory: Path, scratch: Path) -> list[float]:
    """/health/live requests each worker counted, from its own file."""
    counts = []
    for index, file in enumerate(sorted(directory.glob("counter_*.db"))):
        alone = scratch / str(index)
        alone.mkdir(parents=True)
        shutil.copy(file, alone)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))
        counts.append(_requests_counted(_exposition(registry)))
    return counts


def _exposition(registry: CollectorRegistry) -> str:
    from prometheus_client import generate_latest

    return generate_latest(registry).decode()


def test_two_workers_share_their_metrics(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    with served(tmp_path, WORKERS="2", METRICS_ENABLED="true", TMPDIR=str(temp)) as server:
        (directory,) = temp.glob("app-metrics-*")  # made by `serve` for its workers
        sent = 1  # served() saw /health/live answer once
        deadline = time.monotonic() + 30
        with ThreadPoolExecutor(max_workers=8) as pool:
            # Until both workers have answered some (and at least 20 in all).
            while True:
                statuses = list(pool.map(_live, [server.base_url] * 10))
                assert statuses == [200] * 10
                sent += 10
                counts = _per_worker(directory, tmp_path / f"scratch{sent}")
                if sent > 20 and len(counts) == 2 and all(counts):
                    break
                assert time.monotonic() < deadline, f"requests did not reach both workers: {counts}"
        # Whichever worker answers /metrics counts every worker's requests.
        totals = set()
        for _ in range(6):
            text = httpx.get(f"{server.base_url}/metrics", headers={"Connection": "close"}, timeout=5).text
            totals.add(_requests_counted(text))
        assert totals == {sent}, (totals, sent, counts)
    assert not directory.exists()  # removed with the server


def test_reload_with_several_workers_is_refused(tmp_path: Path) -> None:
    env = environment(tmp_path, WORKERS="2", PORT="1")
    command = [sys.executable, "-m", "app", "serve", "--reload"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "WORKERS" in result.stderr


def test_workers_on_one_sqlite_file_never_serve_a_revoked_session(tmp_path: Path) -> None:
    # Processes on one SQLite file cannot tell each other of a revocation: the session cache
    # must be off, or a worker that remembered the session would accept it after a logout.
    query = "mutation($e: String!, $p: String!) { %s }"
    create = query % "createUser(authProvider: {email: {email: $e, password: $p}}) { id }"
    login = query % "auth_login(email: $e, password: $p) { access_token refresh_token }"
    me = {"query": "{ users_me { email } }"}
    credentials = {"e": "ana@example.com", "p": "correct horse battery"}
    with served(tmp_path, migrate=True, WORKERS="2", RATE_LIMITER_ENABLED="false") as server:
        assert "the live-session cache is off" in server.log.read_text()

        def post(body: dict[str, object], token: str | None = None) -> dict[str, Any]:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            # A new connection each time, so both workers answer some.
            return dict(httpx.post(f"{server.base_url}/graphql", json=body, headers=headers, timeout=10).json())

        post({"query": create, "variables": credentials})
        tokens = post({"query": login, "variables": credentials})["data"]["auth_login"]
        for _ in range(20):
            assert post(me, tokens["access_token"])["data"]["users_me"]["email"] == "ana@example.com"
        logout = post(
            {
                "query": "mutation($t: String) { auth_logout(refresh_token: $t) }",
                "variables": {"t": tokens["refresh_token"]},
            }
        )
        assert logout["data"]["auth_logout"] is True
        for _ in range(20):
            assert post(me, tokens["access_token"])["errors"][0]["extensions"]["code"] == "INVALID_TOKEN"
