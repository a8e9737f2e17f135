"""Random secrets and the one-way hashes we store instead of them."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_token(nbytes: int = 32) -> str:
    """An unguessable URL-safe token (default 256 bits)."""
    return secrets.token_urlsafe(nbytes)


def hash_token(token: str) -> str:
    """sha256 of a high-entropy token; enough because the token itself is random."""
    return hashlib.sha256(token.encode()).hexdigest()


def derive_key(secret: str, purpose: str) -> bytes:
    """A separate 256-bit key per purpose, so one leaked derived key exposes nothing else."""
    return hmac.new(secret.encode(), f"graphql-auth:{purpose}".encode(), hashlib.sha256).digest()
