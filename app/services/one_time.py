"""Emailed secrets (reset, verification, magic link, invite): single use, expiring, stored
as sha256. Spending one and voiding the others lock the account's user row first, so a
reset that voids the account's other tokens and a request spending one of them cannot
both win."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from uuid import UUID

from app.auth.passwords import Passwords
from app.auth.secrets import hash_token, new_token
from app.errors import InvalidToken, TokenExpired
from app.models import OneTimeToken, Purpose, User
from app.services.client import now
from app.services.revocations import in_transaction

MAX_TOKEN_LENGTH = 128


async def issue(user: User, purpose: Purpose, ttl: float) -> str:
    token = new_token(32)
    await OneTimeToken.create(
        user=user,
        purpose=purpose,
        token_hash=hash_token(token),
        expires_at=now() + timedelta(seconds=ttl),
    )
    return token


async def consume(token: str, purpose: Purpose, check: Callable[[User], Awaitable[None]] | None = None) -> User:
    """Mark the token used and return its user (locked until the transaction ends); call
    inside the transaction that acts on it, so a failure afterwards leaves the token usable.
    `check` runs before the token is spent (a wrong second factor must not burn a magic
    link)."""
    record = await _usable(token, purpose)
    user = await lock_user(record.user_id)
    if user is None:
        raise InvalidToken()
    if check is not None:
        await check(user)
    # Conditional update: of two racing requests with the same token only one wins, and a
    # token voided while we waited for the lock is seen as used.
    won = await OneTimeToken.filter(id=record.id, used_at=None).update(used_at=now())
    if not won:
        raise InvalidToken()
    return user


async def peek(token: str, purpose: Purpose) -> User:
    """The user of a usable token, leaving it unspent (to check a new password against the
    account before hashing it)."""
    user: User = (await _usable(token, purpose)).user
    return user


async def _usable(token: str, purpose: Purpose) -> OneTimeToken:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken()
    record = await OneTimeToken.filter(token_hash=hash_token(token), purpose=purpose).select_related("user").first()
    if record is None or record.used_at is not None:
        raise InvalidToken()
    if record.expires_at <= now():
        raise TokenExpired()
    return record


async def lock_user(user_id: UUID | str) -> User | None:
    """The user row, locked to the end of the transaction (PostgreSQL; SQLite runs one
    transaction at a time anyway)."""
    return await User.filter(id=user_id).select_for_update().first()


async def void_outstanding(user_id: UUID | str, purposes: Iterable[Purpose] | None = None) -> int:
    """Spend every unused token of the account (of the given purposes): call in the
    transaction that changes the credentials, after locking the user."""
    query = OneTimeToken.filter(user_id=user_id, used_at=None)
    if purposes is not None:
        query = query.filter(purpose__in=list(purposes))
    return await query.update(used_at=now())


async def new_password_hash(passwords: Passwords, token: str, purpose: Purpose, password: str) -> str:
    """A password chosen through a mailed link (reset, invitation), checked against the link's
    account and hashed, before the link is spent: a refused password leaves it usable."""
    passwords.check_shape(password)
    owner = await peek(token, purpose)
    await passwords.check_new(password, owner.email, owner.personal_details)
    return await passwords.hash(password)


async def discard(token: str) -> None:
    await OneTimeToken.filter(token_hash=hash_token(token)).delete()


__all__ = [
    "consume",
    "discard",
    "in_transaction",
    "issue",
    "lock_user",
    "new_password_hash",
    "peek",
    "void_outstanding",
]
