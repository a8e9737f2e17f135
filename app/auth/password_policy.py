"""Which new passwords we accept (NIST SP 800-63B 3.1.1.2): not common, not built from the
account's own email or name, not known from breaches.

zxcvbn estimates the guesses an attacker needs, with its offline lists of common passwords,
words and names plus the account's own details; `PASSWORD_MIN_STRENGTH` is the lowest score
(0-4) accepted. With `PASSWORD_BREACH_CHECK` the Pwned Passwords range API is asked too, by
k-anonymity: only the first 5 hex digits of the SHA-1 leave the server.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from app.config import Settings
from app.errors import InvalidPayload

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("app.passwords")

PWNED_PASSWORDS_RANGE_URL = "https://api.pwnedpasswords.com/range/"
BREACH_CHECK_TIMEOUT = 3.0
# zxcvbn's matching grows faster than linearly with length; its own default cap is 72
# characters, and anything longer than that is scored on its first 72 (the rest only adds).
SCORED_LENGTH = 72

Runner = Callable[..., Awaitable[Any]]

# zxcvbn keeps the user inputs of the call in a module-level dict, so two concurrent calls
# would score each other's account details; it is pure Python (holds the GIL), so the lock
# costs no parallelism.
_zxcvbn_lock = threading.Lock()


def user_inputs(email: str | None, names: Iterable[str | None] = ()) -> list[str]:
    """The account's own words: the email, its local part and the pieces of both, the names."""
    words: list[str] = []
    if email:
        local, _, domain = email.lower().partition("@")
        pieces = re.split(r"[._+\-]+", local)
        words += [email.lower(), local, "".join(pieces), *pieces, domain.split(".")[0]]
    for name in names:
        if name:
            words += [name.lower(), *name.lower().split()]
    return list(dict.fromkeys(w for w in words if len(w) >= 3))


def _refusal(password: str, inputs: list[str], min_strength: int) -> str | None:
    """Why zxcvbn finds the password too weak, from the matches it found; None if it is not."""
    # Imported on the first password chosen: its word lists hold 12 MB that signing in never reads.
    from zxcvbn import zxcvbn

    with _zxcvbn_lock:
        result = zxcvbn(password[:SCORED_LENGTH], user_inputs=inputs, max_length=SCORED_LENGTH)
    if result["score"] >= min_strength:
        return None
    dictionaries = {m.get("dictionary_name") for m in result["sequence"] if m["pattern"] == "dictionary"}
    if "user_inputs" in dictionaries:
        return "This password is built from your email or name."
    if "passwords" in dictionaries:
        return "This password is too common."
    warning = result["feedback"]["warning"]
    return "This password is too easy to guess." + (f" {warning}" if warning else "")


class PasswordPolicy:
    def __init__(
        self,
        settings: Settings,
        run: Runner,
        http_transport: httpx.AsyncBaseTransport | None = None,
        range_url: str = PWNED_PASSWORDS_RANGE_URL,
    ) -> None:
        """`run` puts zxcvbn off the event loop (the hashing pool); `http_transport` and
        `range_url` carry the breach check (tests point them at a local server)."""
        self.min_strength = settings.password_min_strength
        self.breach_check = settings.password_breach_check
        self._run = run
        self._transport = http_transport
        self._range_url = range_url
        self._client: httpx.AsyncClient | None = None

    async def check(self, password: str, inputs: list[str]) -> None:
        """Raise InvalidPayload, saying why, for a password we would not let anyone choose."""
        if self.min_strength > 0:
            refusal = await self._run(_refusal, password, inputs, self.min_strength)
            if refusal is not None:
                raise InvalidPayload(refusal)
        if self.breach_check and await self._breached(password):
            raise InvalidPayload("This password has appeared in a data breach.")

    async def _breached(self, password: str) -> bool:
        """Pwned Passwords by range; when it cannot answer, the password is allowed (logged)."""
        import httpx  # with the first check: a server that makes no outbound call does without its 2 MB

        digest = hashlib.sha1(password.encode(), usedforsecurity=False).hexdigest().upper()
        prefix, suffix = digest[:5], digest[5:]
        if self._client is None:
            # One client for the app's life: building one loads the CA bundle, on the loop.
            self._client = httpx.AsyncClient(transport=self._transport, timeout=BREACH_CHECK_TIMEOUT)
        try:
            # Padding makes every answer about the same size, so the traffic does not tell an
            # observer which prefix was asked for.
            response = await self._client.get(self._range_url + prefix, headers={"Add-Padding": "true"})
            response.raise_for_status()
        except httpx.HTTPStatusError as exc:
            log.warning("breach check skipped: Pwned Passwords answered %s", exc.response.status_code)
            return False
        except httpx.HTTPError as exc:
            # Only the error's type: its text could carry the URL, and so the hash prefix.
            log.warning("breach check skipped: Pwned Passwords unreachable (%s)", type(exc).__name__)
            return False
        for line in response.text.splitlines():
            candidate, _, count = line.strip().partition(":")
            # Padding entries have a count of 0.
            if candidate.upper() == suffix and count.strip() not in ("", "0"):
                return True
        return False

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
