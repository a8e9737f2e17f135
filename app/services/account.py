"""What signed-in users do to their own account: profile, password, deletion."""

from __future__ import annotations

from app.auth.passwords import Passwords
from app.errors import Forbidden, InvalidCredentials
from app.models import Purpose, User
from app.services import audit, one_time, revocations
from app.services.budgets import Budgets
from app.services.client import ClientInfo
from app.services.mfa import MfaService
from app.services.revocations import in_transaction
from app.services.sessions import SessionService
from app.services.users import clean_name

# How recently a session must have signed in or re-authenticated to mint an API token or
# register a passkey without passing the password or an OTP again.
RECENT_AUTHENTICATION = 600


class AccountService:
    def __init__(self, passwords: Passwords, sessions: SessionService, budgets: Budgets, mfa: MfaService) -> None:
        self.passwords = passwords
        self.sessions = sessions
        self.budgets = budgets
        self.mfa = mfa

    async def verify_password(self, user: User, password: str, client: ClientInfo, session_id: str | None) -> None:
        """Re-authentication for sensitive changes; a wrong password is INVALID_CREDENTIALS,
        and a stolen session cannot guess on forever (REQUESTS_EXCEEDED). A success
        counts as a recent authentication of `session_id`."""
        self.passwords.check_size(password)
        async with self.budgets.known_user_guess(user.id, client):
            matches, _ = await self.passwords.verify(password, user.password_hash)
            if not matches:
                raise InvalidCredentials()
        if session_id is not None:
            await self.sessions.mark_reauthenticated(session_id)

    async def confirm_recent(
        self, user: User, session_id: str, password: str | None, otp: str | None, client: ClientInfo
    ) -> None:
        """A recent authentication, for what outlives the session (an API token, a passkey):
        a stolen 15-minute access token must not turn itself into a permanent credential.
        What is passed is always checked; with nothing passed the session must have signed
        in or re-authenticated within RECENT_AUTHENTICATION."""
        if password is None and otp is None:
            if await self.sessions.authenticated_within(session_id, RECENT_AUTHENTICATION):
                return
            raise Forbidden("Confirm it is you: pass your password or an otp, or sign in again.")
        if password is not None:
            await self.verify_password(user, password, client, None)
        if otp is not None:
            await self.mfa.confirm(user, otp, client)
        await self.sessions.mark_reauthenticated(session_id)

    async def update_profile(self, user: User, first_name: str | None, last_name: str | None, name: str | None) -> User:
        fields = []
        for field, value in (("first_name", first_name), ("last_name", last_name), ("name", name)):
            if value is not None:
                setattr(user, field, clean_name(value))
                fields.append(field)
        if fields:
            await user.save(update_fields=fields)
        return user

    async def change_password(
        self, user: User, password: str, new_password: str, keep_session: str | None, client: ClientInfo
    ) -> None:
        """Needs the current password; every other session is signed out, and reset and
        magic links mailed earlier stop working. API tokens stay: they are separate
        credentials the owner manages (a reset, which is recovery, revokes them)."""
        await self.verify_password(user, password, client, keep_session)
        await self.passwords.check_new(new_password, user.email, user.personal_details)
        new_hash = await self.passwords.hash(new_password)
        async with in_transaction():
            await one_time.lock_user(user.id)
            await User.filter(id=user.id).update(password_hash=new_hash)
            await revocations.forget_user(user.id)
            await one_time.void_outstanding(user.id, (Purpose.password_reset, Purpose.magic_link))
            await self.sessions.revoke_all(str(user.id), keep=keep_session)
        await audit.record("password.changed", user_id=user.id, client=client)

    async def delete(self, user: User, password: str, client: ClientInfo) -> None:
        """Remove the account; sessions, tokens and codes go with it (ON DELETE CASCADE)."""
        if user.password_hash is not None:
            await self.verify_password(user, password, client, None)
        await User.filter(id=user.id).delete()
        await revocations.forget_user(user.id)
        await audit.record("user.deleted", user_id=user.id, client=client)
