"""Password hashing with passlib (libpass), always off the event loop.

argon2id at OWASP's first setting by default; bcrypt and other passlib hashes imported from
elsewhere still verify and are re-hashed on the next successful login (`deprecated="auto"`
flags any hash whose scheme or parameters differ from the current ones).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

from passlib.context import CryptContext

from app import metrics
from app.auth.password_policy import PasswordPolicy, user_inputs
from app.auth.secrets import new_token
from app.config import Settings
from app.errors import InvalidPayload

if TYPE_CHECKING:
    import httpx

BCRYPT_MAX_BYTES = 72
T = TypeVar("T")


class Passwords:
    def __init__(self, settings: Settings, http_transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.min_length = settings.password_min_length
        self.max_length = settings.password_max_length
        self.bcrypt_first = settings.password_hash == "bcrypt"
        schemes = ["bcrypt", "argon2"] if self.bcrypt_first else ["argon2", "bcrypt"]
        self.context = CryptContext(
            schemes=schemes,
            deprecated="auto",
            argon2__type="ID",
            argon2__memory_cost=settings.argon2_memory_cost,
            argon2__time_cost=settings.argon2_time_cost,
            argon2__parallelism=settings.argon2_parallelism,
            bcrypt__rounds=12,
        )
        # A bounded pool: hashing releases the GIL, but more threads than cores only make
        # every other request wait longer (see bench/).
        self._pool = ThreadPoolExecutor(
            max_workers=settings.password_hash_concurrency, thread_name_prefix="password-hash"
        )
        self._dummy_hash: str | None = None
        # zxcvbn is CPU work too: it shares the pool, so a burst of sign-ups cannot starve
        # the event loop.
        self.policy = PasswordPolicy(settings, self._run, http_transport)

    async def check_new(self, password: str, email: str | None, names: Iterable[str | None] = ()) -> None:
        """The one check of every password someone chooses (sign-up, reset, change, invite,
        admin): length first, then the policy, which knows the account's email and names.
        Runs before any hashing."""
        self.check_shape(password)
        await self.policy.check(password, user_inputs(email, names))

    def check_shape(self, password: str) -> None:
        """The cheap part of `check_new`, for paths that must find the account first."""
        self.check_size(password)
        if len(password) < self.min_length:
            raise InvalidPayload(f"Password must be at least {self.min_length} characters.")
        if not password.strip():
            raise InvalidPayload("Password must not be blank.")

    def check_size(self, password: str) -> None:
        """Reject over-long input before it reaches a hash function (cheap DoS guard)."""
        if len(password) > self.max_length:
            raise InvalidPayload(f"Password must be at most {self.max_length} characters.")
        if self.bcrypt_first and len(password.encode()) > BCRYPT_MAX_BYTES:
            raise InvalidPayload(f"Password must be at most {BCRYPT_MAX_BYTES} bytes with bcrypt.")

    async def hash(self, password: str) -> str:
        hashed: str = await self._run(self.context.hash, password)
        return hashed

    async def verify(self, password: str, stored: str | None) -> tuple[bool, str | None]:
        """(matches, new hash to save or None). A missing hash still costs one verify."""
        if stored is None:
            await self.dummy_verify(password)
            return False, None
        try:
            matches, new_hash = await self._run(self.context.verify_and_update, password, stored)
        except ValueError:
            # bcrypt 5 raises on > 72 bytes; an unknown or corrupt hash raises too.
            return False, None
        return bool(matches), new_hash

    async def dummy_verify(self, password: str) -> None:
        """Spend the time of a real verify, so unknown users are not faster to reject."""
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(new_token())
        await self._run(self.context.verify, password, self._dummy_hash)

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        job = metrics.QueuedHash(fn)  # the queue's depth and wait, for operators
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, job, *args)
        finally:
            job.abandon()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
