"""Guessing budgets: how many passwords, codes and recovery codes may be tried, drawn
before each check so that concurrent requests cannot overrun them.

Two budgets per account, and a device cookie (app/auth/devices.py) moves a client off the
shared one: a client presenting a valid entry for the account draws on that entry's own
budget, so an attacker who spends the shared budget does not lock the owner's browser out,
and a stolen cookie is limited on its own.

- sign-in: passwords (and texted codes) at sign-in, per identifier (`email:...`,
  `phone:...`), whether or not the account exists; LOGIN_ATTEMPTS_PER_ACCOUNT per
  LOGIN_ATTEMPTS_WINDOW (0 turns it off).
- known user: every check about an account already identified: the second factor at any
  sign-in (password, magic link, social), and passwords and codes while signed in
  (re-authentication, two-factor enable/disable/recovery codes); USER_ATTEMPTS per
  USER_WINDOW per user id.

Each check draws from its budget before it runs; a wrong answer keeps the draw, anything
else gives it back. So the budget counts wrong guesses exactly, however many arrive at once,
while a correct answer neither spends nor clears it (clients that keep no cookies can still
sign in as often as they need).

And one budget that is not about guessing: mail, per recipient address and purpose
(MAILS_PER_ADDRESS per MAIL_WINDOW), so that nobody can aim the server at an inbox.

Every key names an account, so it is stored as a keyed hash (app/auth/throttle.py,
PrivateKeys): the counters storage holds no address in clear.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager, nullcontext
from uuid import UUID

from limits.aio.storage import Storage

from app.auth.devices import DeviceCookies
from app.auth.throttle import PrivateKeys, Throttle
from app.config import Settings
from app.services.client import ClientInfo

USER_ATTEMPTS = 10
USER_WINDOW = 900
# Mails to one address for one purpose (verification, password reset, magic link, ...):
# a person who asks again a few times gets every mail; a script looping on the request
# (or batching it, or from many IPs) gets five an hour into someone's inbox, not hundreds.
MAILS_PER_ADDRESS = 5
MAIL_WINDOW = 3600


class Budgets:
    def __init__(self, settings: Settings, counters: Storage, devices: DeviceCookies) -> None:
        self.devices = devices
        private = PrivateKeys(settings.secret)
        self.sign_in = (
            Throttle(
                counters, settings.login_attempts_per_account, int(settings.login_attempts_window), "login", private
            )
            if settings.login_attempts_per_account
            else None
        )
        self.known_user = Throttle(counters, USER_ATTEMPTS, USER_WINDOW, "user", private)
        self.mail = Throttle(counters, MAILS_PER_ADDRESS, MAIL_WINDOW, "mail", private)

    def sign_in_guess(
        self, account: str, user_id: UUID | str | None, client: ClientInfo
    ) -> AbstractAsyncContextManager[None]:
        """Around one sign-in check for `account` (the identifier); `user_id` is its user,
        when the client presented a device cookie and the account exists."""
        if self.sign_in is None:
            return nullcontext()
        return self.sign_in.attempt(self._key(account, user_id, client))

    def known_user_guess(self, user_id: UUID | str, client: ClientInfo) -> AbstractAsyncContextManager[None]:
        """Around one check of a code or password of a known account."""
        return self.known_user.attempt(self._key(f"user:{user_id}", user_id, client))

    async def take_mail(self, address: str, purpose: str) -> None:
        """One mail to `address` for `purpose`, or REQUESTS_EXCEEDED (drawn, never given back:
        a mail sent is a mail sent)."""
        await self.mail.take(f"{purpose}:{address.lower()}")

    def _key(self, shared: str, user_id: UUID | str | None, client: ClientInfo) -> str:
        nonce = self.devices.nonce_for(client.device, user_id) if user_id is not None else None
        return f"device:{nonce}" if nonce else shared
