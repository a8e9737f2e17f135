"""Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device Cookies"): a
browser that once signed in to an account gets a sealed note saying so, and its guesses
for that account draw on a budget of its own instead of the budget everyone else shares.

One cookie holds up to MAX_ENTRIES accounts, newest first, as `entry~entry~...`. An entry
is the account's user id and a random nonce, encrypted and authenticated (AES-GCM under a
key derived from SECRET): whoever sees the cookie learns neither which accounts it names
nor their nonces, and cannot make or alter an entry. The nonce names the budget, so one
leaked cookie can be locked out on its own. The cookie is a hint for budgets only, never a
credential; app/http/cookies.py declares it (`auth_device`) and app/http/delivery.py sets
it after every sign-in.
"""

from __future__ import annotations

import base64
import binascii
import os
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.auth.secrets import derive_key

MAX_ENTRIES = 5
_MAX_COOKIE_LENGTH = 1024  # five entries take 379 characters
_IV_BYTES = 12  # AES-GCM's nonce, random per entry (far fewer than 2**32 entries per key)
_NONCE_BYTES = 12  # the budget's nonce
_UUID_BYTES = 16
_ENTRY_BYTES = _IV_BYTES + _UUID_BYTES + _NONCE_BYTES + 16  # + the GCM tag
# Bound to this use: a ciphertext made under the same key for anything else is refused.
_CONTEXT = b"graphql-auth:device-cookie:v2"


class DeviceCookies:
    def __init__(self, secret: str) -> None:
        self._aead = AESGCM(derive_key(secret, "device-cookie"))

    def nonce_for(self, cookie: str | None, user_id: UUID | str) -> str | None:
        """The nonce of the cookie's valid entry for this account, else None."""
        return self._entries(cookie).get(str(user_id))

    def remember(self, cookie: str | None, user_id: UUID | str) -> str:
        """The cookie after a sign-in: a fresh entry for this account first (a new nonce, so
        the owner's own budget starts again), then the other accounts' valid entries."""
        account = str(user_id)
        nonce = os.urandom(_NONCE_BYTES).hex()
        kept = [self._entry(a, n) for a, n in self._entries(cookie).items() if a != account]
        return "~".join([self._entry(account, nonce), *kept][:MAX_ENTRIES])

    def _entries(self, cookie: str | None) -> dict[str, str]:
        """Account (user id) -> nonce, for the entries that open."""
        found: dict[str, str] = {}
        if not cookie or len(cookie) > _MAX_COOKIE_LENGTH:
            return found
        for entry in cookie.split("~")[:MAX_ENTRIES]:
            opened = self._open(entry)
            if opened is not None:
                found.setdefault(*opened)
        return found

    def _entry(self, account: str, nonce: str) -> str:
        iv = os.urandom(_IV_BYTES)
        sealed = self._aead.encrypt(iv, UUID(account).bytes + bytes.fromhex(nonce), _CONTEXT)
        return base64.urlsafe_b64encode(iv + sealed).decode().rstrip("=")

    def _open(self, entry: str) -> tuple[str, str] | None:
        try:
            raw = base64.urlsafe_b64decode(entry + "=" * (-len(entry) % 4))
        except (binascii.Error, ValueError):
            return None
        if len(raw) != _ENTRY_BYTES:
            return None
        try:
            plain = self._aead.decrypt(raw[:_IV_BYTES], raw[_IV_BYTES:], _CONTEXT)
        except InvalidTag:
            return None
        return str(UUID(bytes=plain[:_UUID_BYTES])), plain[_UUID_BYTES:].hex()
