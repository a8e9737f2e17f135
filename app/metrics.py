"""What an operator watches: Prometheus metrics (`GET /metrics` when METRICS_ENABLED=true).

The metrics live in prometheus-client's default registry and are counted whether or not the
route is on (an increment costs less than the check would). Every label value comes from a
fixed set, never from the client: routes are path templates, GraphQL operations are root
field names of our own schema, providers are configured names.

With several server processes (WORKERS > 1) `python -m app serve` points
PROMETHEUS_MULTIPROC_DIR at a fresh directory before the workers start; each worker then
writes its values there and `/metrics`, whichever worker answers, sums them all.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
T = TypeVar("T")

# Latency buckets from 5 ms (a cached query) to 10 s (a stalled login behind a slow database).
_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

http_requests = Counter(
    "http_requests_total", "HTTP requests answered, by method, route template and status", ["method", "route", "status"]
)
http_latency = Histogram(
    "http_request_duration_seconds", "Time to answer an HTTP request", ["method", "route"], buckets=_LATENCY
)
graphql_operations = Counter(
    "graphql_operations_total",
    "GraphQL operations, by type and root field (`multiple`, `introspection`, `other`, `invalid`) and outcome",
    ["type", "operation", "outcome"],
)
graphql_latency = Histogram(
    "graphql_operation_duration_seconds",
    "Time to parse, validate and run a GraphQL operation",
    ["type", "operation"],
    buckets=_LATENCY,
)
sign_ins = Counter(
    "auth_sign_ins_total", "Sign-ins by provider and outcome (`success` or the error code)", ["provider", "outcome"]
)
refreshes = Counter(
    "auth_refreshes_total", "Refresh-token rotations by outcome (`success` or the error code)", ["outcome"]
)
refresh_reuse = Counter("auth_refresh_token_reuse_total", "Rotated refresh tokens presented again (sessions revoked)")
rate_limited = Counter("rate_limit_refusals_total", "Requests refused with REQUESTS_EXCEEDED, by limit", ["limit"])
hash_queue = Gauge(
    "password_hash_queue_depth",
    "Password hashes waiting for a thread of the bounded pool",
    multiprocess_mode="livesum",
)
hash_wait = Histogram(
    "password_hash_wait_seconds",
    "Time a password hash waited for a thread of the pool",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
db_pool = Gauge(
    "db_pool_connections",
    "Database pool connections (PostgreSQL): `size`, `idle`, `in_use`, `max`",
    ["state"],
    multiprocess_mode="livesum",
)

# Provider names as configured or built in; anything else (a client naming an unknown
# provider) is counted as `other`.
_PROVIDER = re.compile(r"[a-z0-9_.:-]{1,40}")
_OUTCOME = re.compile(r"[A-Z_]{1,40}")


def signed_in(provider: str | None, outcome: str) -> None:
    if outcome == "INVALID_PROVIDER" or not provider or not _PROVIDER.fullmatch(provider):
        provider = "other"
    sign_ins.labels(provider, outcome if outcome == "success" or _OUTCOME.fullmatch(outcome) else "other").inc()


def audited(action: str, detail: Mapping[str, Any]) -> None:
    """Count the audit events an operator watches (called by every audit record)."""
    if action == "login":
        signed_in(detail.get("provider"), "success")
    elif action == "login.failed":
        signed_in(detail.get("provider"), str(detail.get("code") or "other"))
    elif action == "refresh_token.reused":
        refresh_reuse.inc()


def refused(limit: str) -> None:
    rate_limited.labels(limit).inc()


class QueuedHash(Generic[T]):
    """A hash job, counted in the queue from its submission until a pool thread starts it
    (or its caller gives up on it first)."""

    def __init__(self, fn: Callable[..., T]) -> None:
        self.fn = fn
        self.submitted = time.perf_counter()
        self._lock = threading.Lock()
        self._left = False
        hash_queue.inc()

    def __call__(self, *args: Any) -> T:
        if self._leave():
            hash_wait.observe(time.perf_counter() - self.submitted)
        return self.fn(*args)

    def abandon(self) -> None:
        """After the await, whatever happened: a job cancelled while queued leaves the queue."""
        self._leave()

    def _leave(self) -> bool:
        with self._lock:
            if self._left:
                return False
            self._left = True
        hash_queue.dec()
        return True


def database_pool(pool: Any) -> None:
    """Record an asyncpg pool's use; SQLite has no pool and reports nothing."""
    if pool is None or not hasattr(pool, "get_size"):
        return
    size, idle = pool.get_size(), pool.get_idle_size()
    db_pool.labels("size").set(size)
    db_pool.labels("idle").set(idle)
    db_pool.labels("in_use").set(size - idle)
    db_pool.labels("max").set(pool.get_max_size())


def timer() -> Callable[[], float]:
    started = time.perf_counter()
    return lambda: time.perf_counter() - started


def exposition() -> tuple[bytes, str]:
    """The text `/metrics` answers: this process's metrics, or every worker's in multiprocess mode."""
    if os.environ.get(MULTIPROC_DIR):
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def share_between_workers() -> str:
    """Point PROMETHEUS_MULTIPROC_DIR at a fresh directory for the workers about to start
    (they inherit it), removed when this process exits: stale files from an earlier run
    would be summed in."""
    path = tempfile.mkdtemp(prefix="app-metrics-")
    os.environ[MULTIPROC_DIR] = path
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def _forget_this_process() -> None:
    # A worker that exits stops counting towards the live gauges (hash queue, pool use).
    if os.environ.get(MULTIPROC_DIR):
        _multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


atexit.register(_forget_this_process)
