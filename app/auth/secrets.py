"""Random secrets, the one-way hashes we store instead of them, and SecretBox for the few
we must read back."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken


def new_token(nbytes: int = 32) -> str:
    """An unguessable URL-safe token (default 256 bits)."""
    return secrets.token_urlsafe(nbytes)


def hash_token(token: str) -> str:
    """sha256 of a high-entropy token; enough because the token itself is random."""
    return hashlib.sha256(token.encode()).hexdigest()


def derive_key(secret: str, purpose: str) -> bytes:
    """A separate 256-bit key per purpose, so one leaked derived key exposes nothing else."""
    return hmac.new(secret.encode(), f"graphql-auth:{purpose}".encode(), hashlib.sha256).digest()


class SecretBox:
    """Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from SECRET, one per purpose."""

    def __init__(self, secret: str, purpose: str = "tfa-secret") -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(derive_key(secret, purpose)))

    def seal(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode()

    def open(self, sealed: str) -> str | None:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            return None

    def open_with_ttl(self, sealed: str, ttl: int) -> str:
        """Raises cryptography's InvalidToken when tampered with or older than `ttl` s."""
        return self._fernet.decrypt(sealed.encode(), ttl=ttl).decode()
