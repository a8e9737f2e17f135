"""Pre-account hijacking: an account whose address nobody has proven yet may have been set up
by someone other than the address's owner (a sign-up with the victim's email, then a password,
a second factor, a phone or a social identity of the attacker's own). When the owner first
proves the address (a provider vouching for it at social sign-in, or a password reset mail),
every way in that the unproven holder set up goes, so the account is the prover's alone."""

from __future__ import annotations

from app.models import Identity, RecoveryCode, User
from app.services import audit, one_time
from app.services.api_tokens import ApiTokenService
from app.services.sessions import SessionService


async def hand_over(user: User, sessions: SessionService, *, keep_password: bool = False) -> None:
    """Call inside the transaction that proves the address, after locking the user; it leaves
    `email_verified` for the caller to set. `keep_password`: the caller has just set it."""
    user.tfa_secret, user.tfa_last_step, user.phone = None, None, None
    fields = ["tfa_secret", "tfa_last_step", "phone"]
    if not keep_password:
        user.password_hash = None
        fields.append("password_hash")
    await user.save(update_fields=fields)
    await RecoveryCode.filter(user_id=user.id).delete()
    await Identity.filter(user_id=user.id).delete()
    await one_time.void_outstanding(user.id)
    await sessions.revoke_all(str(user.id))
    await ApiTokenService.revoke_all(user.id)
    await audit.record("account.reclaimed", user_id=user.id)
