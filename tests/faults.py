"""Tools of the fault tests (tests/test_*_faults.py, marked `faults`): a TCP relay the test
can cut, clients that record what the server acknowledged, and the database's own view of
what exists, read with the drivers directly (never through the app)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from app.auth.secrets import hash_token
from app.auth.tokens import RefreshTokens
from tests.conftest import CREATE_USER, make_settings
from tests.served import free_port

T = TypeVar("T")
PASSWORD = "correct horse battery"
# Every request of a fault test gives up after this: a server that hangs fails the test.
REQUEST_TIMEOUT = 10.0


class Relay:
    """A TCP relay from a loopback port to `upstream`, run on an event loop in a thread of
    its own (so that nothing the test does can hold it up). `cut()` drops every relayed
    connection (a reset, as when a database host fails) and refuses new ones; `stall()`
    keeps every connection open and accepts new ones but passes nothing on (a host that
    went silent: a partition, a frozen VM); `restore()` relays again, on the same port
    (after a stall, new connections only: the stalled ones are dropped)."""

    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self.accepted = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="relay", daemon=True)
        self._server: asyncio.Server | None = None
        self._transports: set[asyncio.BaseTransport] = set()
        self._stalled = False

    def __enter__(self) -> Relay:
        self._thread.start()
        self.restore()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def cut(self) -> None:
        self._run(self._cut())

    def stall(self) -> None:
        self._stalled = True

    def restore(self) -> None:
        if self._stalled:
            self._stalled = False
            self.cut()
        self._run(self._listen())

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for transport in list(self._transports):
            transport.abort()  # RST: no goodbye, as a dead host or a killed proxy
        self._transports.clear()

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self._stalled:
            self._transports.add(client_writer.transport)  # held open, never answered
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.transport.abort()
            return
        pair = {client_writer.transport, upstream_writer.transport}
        self._transports |= pair

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    if self._stalled:
                        continue  # swallowed
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                writer.transport.abort()

        try:
            await asyncio.gather(pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer))
        finally:
            self._transports -= pair


# --- what the server answered ------------------------------------------------------------------


@dataclass
class Answer:
    """One request: what it was, when, and what came back (`code` is the contract's error
    code, or "" for a success; "TRANSPORT" when no HTTP answer came at all)."""

    kind: str
    started: float
    seconds: float
    status: int
    code: str
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.code


async def _timed(kind: str, send: Coroutine[Any, Any, httpx.Response]) -> Answer:
    started = time.monotonic()
    try:
        response = await send
    except httpx.TransportError as exc:
        return Answer(kind, started, time.monotonic() - started, 0, f"TRANSPORT {type(exc).__name__}")
    seconds = time.monotonic() - started
    try:
        body = response.json()
    except ValueError:
        return Answer(kind, started, seconds, response.status_code, f"NOT JSON {response.text[:80]!r}")
    errors = body.get("errors") or []
    code = errors[0].get("extensions", {}).get("code", "?") if errors else ""
    if not code and response.status_code != 200:
        code = f"HTTP {response.status_code}"
    return Answer(kind, started, seconds, response.status_code, code, body)


async def create_user(http: httpx.AsyncClient, email: str) -> Answer:
    payload = {"query": CREATE_USER, "variables": {"email": email, "password": PASSWORD}}
    return await _timed("createUser", http.post("/graphql", json=payload))


async def sign_in(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> Answer:
    return await _timed("signIn", http.post("/auth/login", json={"email": email, "password": password}))


async def refresh(http: httpx.AsyncClient, token: str) -> Answer:
    return await _timed("refresh", http.post("/auth/refresh", json={"refresh_token": token}))


def tokens(answer: Answer) -> dict[str, Any]:
    """The REST answer's tokens (`access_token`, `refresh_token`, `expires`)."""
    data: dict[str, Any] = answer.body["data"]
    return data


def fresh_domain() -> str:
    """A mail domain of one test run: its checks look at its own users only."""
    return f"run-{uuid.uuid4().hex[:10]}.example.com"


def client(base_url: str, **options: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT, **options)


# --- what the database holds -------------------------------------------------------------------


async def query(database_url: str, sql: str, *args: object) -> list[tuple[Any, ...]]:
    """Rows of `sql` (with `$1`-style parameters), read with the driver itself."""
    if database_url.startswith("sqlite://"):
        path = database_url.removeprefix("sqlite://").split("?")[0]

        def read() -> list[tuple[Any, ...]]:
            with sqlite3.connect(path, timeout=10) as connection:
                return connection.execute(sql.replace("$1", "?").replace("$2", "?"), args).fetchall()

        return await asyncio.to_thread(read)
    import asyncpg

    connection = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1), timeout=10)
    try:
        return [tuple(row) for row in await connection.fetch(sql, *args)]
    finally:
        await connection.close()


@dataclass
class HalfWritten:
    """What must never exist: a user of the run with no way to sign in, a session whose
    user is gone, a session whose stored token hash is not that of its generation (a
    rotation half done: the old token spent and no successor that works)."""

    users_without_credential: list[str]
    sessions_without_user: int
    sessions_out_of_step: list[str]

    @property
    def none(self) -> bool:
        return not (self.users_without_credential or self.sessions_without_user or self.sessions_out_of_step)


async def half_written(database_url: str, domain: str) -> HalfWritten:
    bare = await query(
        database_url,
        "SELECT u.email FROM users u WHERE u.email LIKE $1 AND u.password_hash IS NULL AND u.phone IS NULL"
        " AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.user_id = u.id)"
        " AND NOT EXISTS (SELECT 1 FROM passkeys p WHERE p.user_id = u.id)",
        f"%@{domain}",
    )
    orphans = await query(
        database_url, "SELECT COUNT(*) FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = s.user_id)"
    )
    # A rotation moves the generation and the stored hash together, or not at all.
    derive = RefreshTokens(make_settings()).derive
    sessions = await query(
        database_url,
        "SELECT s.id, s.seed, s.generation, s.refresh_hash FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE u.email LIKE $1",
        f"%@{domain}",
    )
    out_of_step = [
        str(sid)
        for sid, seed, generation, stored in sessions
        if hash_token(derive(str(sid), seed, generation)) != stored
    ]
    return HalfWritten([row[0] for row in bare], int(orphans[0][0]), out_of_step)


async def emails_of(database_url: str, domain: str) -> set[str]:
    return {row[0] for row in await query(database_url, "SELECT email FROM users WHERE email LIKE $1", f"%@{domain}")}


# --- a mixed load that remembers what was acknowledged ----------------------------------------


@dataclass
class Chain:
    """One session as its client knows it: the refresh tokens the server acknowledged, in
    order (the first from the sign-in), and whether its last refresh went unacknowledged
    (the server may have rotated without the client hearing of it: then the latest token
    is the one rotated just before, which REFRESH_TOKEN_REUSE_INTERVAL still honours)."""

    email: str
    tokens: list[str]
    uncertain: bool = False

    @property
    def latest(self) -> str:
        return self.tokens[-1]


@dataclass
class Load:
    """Sign-ups, sign-ins and refreshes from `clients` concurrent clients until `stop` is
    set; every answer is kept, and what was acknowledged (a 200 with its body)."""

    base_url: str
    domain: str
    clients: int = 4
    answers: list[Answer] = field(default_factory=list)
    signed_up: list[str] = field(default_factory=list)  # acknowledged createUser
    unacknowledged: list[str] = field(default_factory=list)  # createUser without a 200
    chains: list[Chain] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        await asyncio.gather(*(self._client(index) for index in range(self.clients)))

    async def _client(self, index: int) -> None:
        async with client(self.base_url) as http:
            chain: Chain | None = None
            for number in range(1_000_000):
                if self.stop.is_set():
                    return
                email = f"c{index}-{number}@{self.domain}"
                created = await self._send(create_user(http, email))
                (self.signed_up if created.ok else self.unacknowledged).append(email)
                if self.stop.is_set() or not self.signed_up:
                    continue
                mine = [e for e in self.signed_up if e.startswith(f"c{index}-")] or self.signed_up
                signed_in = await self._send(sign_in(http, mine[-1]))
                if signed_in.ok:
                    chain = Chain(mine[-1], [tokens(signed_in)["refresh_token"]])
                    self.chains.append(chain)
                for _ in range(2):
                    if chain is None or self.stop.is_set():
                        break
                    rotated = await self._send(refresh(http, chain.latest))
                    chain.uncertain = not rotated.ok
                    if rotated.ok:
                        chain.tokens.append(tokens(rotated)["refresh_token"])
            return

    async def _send(self, request: Coroutine[Any, Any, Answer]) -> Answer:
        answer = await request
        self.answers.append(answer)
        if not answer.ok:
            await asyncio.sleep(0.05)  # as a client would before retrying
        return answer

    def between(self, start: float, end: float) -> list[Answer]:
        """Answers to requests sent at or after `start` that came back by `end`."""
        return [a for a in self.answers if a.started >= start and a.started + a.seconds <= end]

    @property
    def acknowledged_refreshes(self) -> int:
        return sum(len(chain.tokens) - 1 for chain in self.chains)
