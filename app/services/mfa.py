"""Second factor: TOTP codes (each accepted once) and single-use recovery codes.

Turning it on takes two steps, both by the signed-in owner: `generate` (with the password)
makes a secret and keeps it, sealed, as the account's pending secret for PENDING_TTL;
`enable` (with a code from it) accepts only that secret, once. A secret the caller picks
is refused: otherwise a stolen access token alone could turn MFA on with the thief's own
secret and lock the owner out for good (a reset does not clear MFA). Enabling signs out
the account's other sessions: they were opened without the second factor.
"""

from __future__ import annotations

import hmac

from cryptography.fernet import InvalidToken
from tortoise.expressions import Q

from app.auth import mfa
from app.auth.secrets import SecretBox
from app.config import Settings
from app.errors import InvalidOtp, InvalidPayload
from app.models import RecoveryCode, User
from app.services import audit, revocations
from app.services.budgets import Budgets
from app.services.client import ClientInfo, now
from app.services.revocations import in_transaction
from app.services.sessions import SessionService

# How long a generated secret waits for `enable`: time enough to scan the QR code and type
# one code, not long enough for a secret left on screen to matter later.
PENDING_TTL = 15 * 60


class MfaService:
    def __init__(self, settings: Settings, budgets: Budgets, sessions: SessionService) -> None:
        self.budgets = budgets  # every code checked, anywhere, draws on the account's budget
        self.sessions = sessions
        self.box = SecretBox(settings.secret)
        self.pending_box = SecretBox(settings.secret, "tfa-pending-secret")
        self.issuer = settings.mfa_issuer

    async def check(self, user: User, otp: str | None, client: ClientInfo) -> None:
        """The sign-in gate: a user with MFA must present a fresh code or a recovery code."""
        if not user.tfa_enabled:
            return
        if not otp:
            raise InvalidOtp()
        await self.confirm(user, otp, client)

    async def accept(self, user: User, otp: str) -> bool:
        if len(otp) > 64 or user.tfa_secret is None:
            return False
        secret = self.box.open(user.tfa_secret)
        step = mfa.matching_step(secret, otp, user.tfa_last_step) if secret else None
        if step is not None:
            # Conditional update: two requests racing with one code cannot both pass.
            won = await User.filter(Q(tfa_last_step__isnull=True) | Q(tfa_last_step__lt=step), id=user.id).update(
                tfa_last_step=step
            )
            if won:
                user.tfa_last_step = step
                await revocations.forget_user(user.id)
            return bool(won)
        used = await RecoveryCode.filter(user_id=user.id, code_hash=mfa.recovery_code_hash(otp), used_at=None).update(
            used_at=now()
        )
        return bool(used)

    async def generate(self, user: User) -> tuple[str, str]:
        """A new secret and its otpauth:// URL. It becomes the account's pending secret (any
        earlier one is forgotten); MFA stays off until `enable`. The caller has checked the
        password."""
        if user.tfa_enabled:
            raise InvalidPayload("Two-factor authentication is already enabled.")
        secret = mfa.new_secret()
        sealed = self.pending_box.seal(secret)
        await User.filter(id=user.id).update(tfa_pending_secret=sealed)
        await revocations.forget_user(user.id)
        user.tfa_pending_secret = sealed
        return secret, mfa.provisioning_uri(secret, user.email or user.phone or str(user.id), self.issuer)

    async def enable(
        self, user: User, secret: str, otp: str, client: ClientInfo, keep_session: str | None = None
    ) -> None:
        """Turn MFA on with the pending secret `generate` made (no other), proven by a code
        from it; the account's sessions other than `keep_session` end."""
        if user.tfa_enabled:
            raise InvalidPayload("Two-factor authentication is already enabled.")
        sealed = user.tfa_pending_secret
        pending = self._open_pending(sealed)
        if pending is None or not hmac.compare_digest(secret.encode(), pending.encode()):
            raise InvalidPayload("Invalid secret: call users_me_tfa_generate and use its secret within 15 minutes.")
        async with self.budgets.known_user_guess(user.id, client):
            step = mfa.matching_step(pending, otp, None)
            if step is None:
                raise InvalidOtp()
        async with in_transaction():
            # Conditional on the pending secret still being the one checked: of two racing
            # requests only one enables, and a newer `generate` voids this one.
            updated = await User.filter(id=user.id, tfa_secret__isnull=True, tfa_pending_secret=sealed).update(
                tfa_secret=self.box.seal(pending), tfa_last_step=step, tfa_pending_secret=None
            )
            if not updated:
                raise InvalidPayload("Invalid secret: call users_me_tfa_generate and use its secret within 15 minutes.")
            await self.sessions.revoke_all(str(user.id), keep=keep_session)
        user.tfa_secret, user.tfa_last_step, user.tfa_pending_secret = self.box.seal(pending), step, None
        await audit.record("tfa.enabled", user_id=user.id, client=client)

    def _open_pending(self, sealed: str | None) -> str | None:
        if sealed is None:
            return None
        try:
            return self.pending_box.open_with_ttl(sealed, PENDING_TTL)
        except InvalidToken:
            return None

    async def disable(self, user: User, otp: str, client: ClientInfo) -> None:
        if not user.tfa_enabled:
            raise InvalidPayload("Two-factor authentication is not enabled.")
        await self.confirm(user, otp, client)
        async with in_transaction():
            await User.filter(id=user.id).update(tfa_secret=None, tfa_last_step=None)
            await revocations.forget_user(user.id)
            await RecoveryCode.filter(user_id=user.id).delete()
        user.tfa_secret = None
        await audit.record("tfa.disabled", user_id=user.id, client=client)

    async def new_recovery_codes(self, user: User, otp: str, client: ClientInfo) -> list[str]:
        """Ten fresh codes, replacing any earlier ones; shown once, stored hashed."""
        if not user.tfa_enabled:
            raise InvalidPayload("Two-factor authentication is not enabled.")
        await self.confirm(user, otp, client)
        codes = mfa.new_recovery_codes()
        async with in_transaction():
            await RecoveryCode.filter(user_id=user.id).delete()
            await RecoveryCode.bulk_create(
                [RecoveryCode(user_id=user.id, code_hash=mfa.recovery_code_hash(c)) for c in codes]
            )
        await audit.record("tfa.recovery_codes", user_id=user.id, client=client)
        return codes

    async def confirm(self, user: User, otp: str, client: ClientInfo) -> None:
        async with self.budgets.known_user_guess(user.id, client):
            if not await self.accept(user, otp):
                raise InvalidOtp()
