"""Emailed secrets (reset, verification): single use, expiring, stored as sha256."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from tortoise.transactions import in_transaction

from app.auth.secrets import hash_token, new_token
from app.errors import InvalidToken, TokenExpired
from app.models import OneTimeToken, Purpose, User
from app.services.client import now

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
    """Mark the token used and return its user; call inside the transaction that acts on it,
    so a failure afterwards leaves the token usable. `check` runs before the token is spent
    (a wrong second factor must not burn a magic link)."""
    record = await _usable(token, purpose)
    if check is not None:
        await check(record.user)
    # Conditional update: of two racing requests with the same token only one wins.
    won = await OneTimeToken.filter(id=record.id, used_at=None).update(used_at=now())
    if not won:
        raise InvalidToken()
    user: User = record.user
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


async def discard(token: str) -> None:
    await OneTimeToken.filter(token_hash=hash_token(token)).delete()


__all__ = ["consume", "discard", "in_transaction", "issue", "peek"]
