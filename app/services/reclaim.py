"""Pre-account hijacking: an account whose address nobody has proven yet may have been set up
by someone other than the address's owner (a sign-up with the victim's email, then a password,
a phone, a social identity or a passkey of the attacker's own), waiting for the owner to arrive. When the
address is first proven by a channel other than the sign-up's own verification link (a
provider vouching for it, a reset mail, a magic link), the ways in that the unproven holder
set up go, so the account is the prover's alone.

The second factor stays: dropping it would let whoever reads the mailbox (or holds the
provider account) skip MFA. An attacker's second factor can at worst lock the owner out
until an admin helps; it cannot let the attacker in, since nothing else of theirs remains."""

from __future__ import annotations

from app.models import Identity, Passkey, User
from app.services import audit, one_time
from app.services.api_tokens import ApiTokenService
from app.services.sessions import SessionService


async def hand_over(user: User, sessions: SessionService, *, keep_password: bool = False) -> None:
    """Call inside the transaction that proves the address, after locking the user and after
    spending the proving token; the caller sets `email_verified`. `keep_password`: the
    caller is setting a new one."""
    user.phone = None
    fields = ["phone"]
    if not keep_password:
        user.password_hash = None
        fields.append("password_hash")
    await user.save(update_fields=fields)
    await Identity.filter(user_id=user.id).delete()
    await Passkey.filter(user_id=user.id).delete()
    await one_time.void_outstanding(user.id)
    await sessions.revoke_all(str(user.id))
    await ApiTokenService.revoke_all(user.id)
    await audit.record("account.reclaimed", user_id=user.id)
