"""Second factor: TOTP codes (each accepted once) and single-use recovery codes."""

from __future__ import annotations

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from app.auth import mfa
from app.auth.secrets import SecretBox
from app.config import Settings
from app.errors import InvalidOtp, InvalidPayload
from app.models import RecoveryCode, User
from app.services import audit
from app.services.budgets import Budgets
from app.services.client import ClientInfo, now


class MfaService:
    def __init__(self, settings: Settings, budgets: Budgets) -> None:
        self.budgets = budgets  # every code checked, anywhere, draws on the account's budget
        self.box = SecretBox(settings.secret)
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
            return bool(won)
        used = await RecoveryCode.filter(user_id=user.id, code_hash=mfa.recovery_code_hash(otp), used_at=None).update(
            used_at=now()
        )
        return bool(used)

    def generate(self, user: User) -> tuple[str, str]:
        """A new secret and its otpauth:// URL; nothing is stored until `enable`."""
        if user.tfa_enabled:
            raise InvalidPayload("Two-factor authentication is already enabled.")
        secret = mfa.new_secret()
        return secret, mfa.provisioning_uri(secret, user.email or user.phone or str(user.id), self.issuer)

    async def enable(self, user: User, secret: str, otp: str, client: ClientInfo) -> None:
        if user.tfa_enabled:
            raise InvalidPayload("Two-factor authentication is already enabled.")
        if not mfa.is_valid_secret(secret):
            raise InvalidPayload("Invalid secret.")
        async with self.budgets.known_user_guess(user.id, client):
            step = mfa.matching_step(secret, otp, None)
            if step is None:
                raise InvalidOtp()
        updated = await User.filter(id=user.id, tfa_secret__isnull=True).update(
            tfa_secret=self.box.seal(secret), tfa_last_step=step
        )
        if not updated:
            raise InvalidPayload("Two-factor authentication is already enabled.")
        user.tfa_secret, user.tfa_last_step = self.box.seal(secret), step
        await audit.record("tfa.enabled", user_id=user.id, client=client)

    async def disable(self, user: User, otp: str, client: ClientInfo) -> None:
        if not user.tfa_enabled:
            raise InvalidPayload("Two-factor authentication is not enabled.")
        await self.confirm(user, otp, client)
        async with in_transaction():
            await User.filter(id=user.id).update(tfa_secret=None, tfa_last_step=None)
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
