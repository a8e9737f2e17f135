"""Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device Cookies"): a
browser that once signed in to an account gets a signed note saying so, and its guesses
for that account draw on a budget of its own instead of the budget everyone else shares.

One cookie holds up to MAX_ENTRIES accounts, newest first, as `entry~entry~...`; an entry
is `<user id>.<nonce>.<mac>`, the mac an HMAC-SHA256 of `<user id>.<nonce>` under a key
derived from SECRET. The nonce names the budget, so one leaked cookie can be locked out on
its own. The cookie is a hint for budgets only, never a credential.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from uuid import UUID

from app.auth.secrets import derive_key

COOKIE_NAME = "auth_device"
MAX_AGE = 365 * 86400
MAX_ENTRIES = 5
_MAX_COOKIE_LENGTH = 1024  # five entries take about 400 characters


class DeviceCookies:
    def __init__(self, secret: str) -> None:
        self._key = derive_key(secret, "device-cookie")

    def nonce_for(self, cookie: str | None, user_id: UUID | str) -> str | None:
        """The nonce of the cookie's valid entry for this account, else None."""
        return self._entries(cookie).get(str(user_id))

    def remember(self, cookie: str | None, user_id: UUID | str) -> str:
        """The cookie after a sign-in: a fresh entry for this account first (a new nonce, so
        the owner's own budget starts again), then the other accounts' valid entries."""
        account = str(user_id)
        nonce = secrets.token_urlsafe(12)
        kept = [self._entry(a, n) for a, n in self._entries(cookie).items() if a != account]
        return "~".join([self._entry(account, nonce), *kept][:MAX_ENTRIES])

    def _entries(self, cookie: str | None) -> dict[str, str]:
        found: dict[str, str] = {}
        if not cookie or len(cookie) > _MAX_COOKIE_LENGTH:
            return found
        for entry in cookie.split("~")[:MAX_ENTRIES]:
            account, _, rest = entry.partition(".")
            nonce, _, mac = rest.partition(".")
            if account and nonce and hmac.compare_digest(mac.encode(), self._mac(account, nonce).encode()):
                found.setdefault(account, nonce)
        return found

    def _entry(self, account: str, nonce: str) -> str:
        return f"{account}.{nonce}.{self._mac(account, nonce)}"

    def _mac(self, account: str, nonce: str) -> str:
        digest = hmac.new(self._key, f"{account}.{nonce}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode()
