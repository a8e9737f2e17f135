"""Never the last way in: an account keeps at least one way to sign in (a password, a phone,
a social identity or a passkey) whatever its owner removes."""

from __future__ import annotations

from app.models import Identity, Passkey, User


async def keeps_a_way_in(user: User, *, provider: str | None = None, passkey_id: str | None = None) -> bool:
    """Whether `user` can still sign in once the identities of `provider`, or the passkey
    `passkey_id`, are gone. Call in the transaction that removes them, with the user locked
    (two removals racing must not each leave the other as the last one)."""
    if user.password_hash is not None or user.phone is not None:
        return True
    identities = Identity.filter(user_id=user.id)
    if provider is not None:
        identities = identities.exclude(provider=provider)
    if await identities.exists():
        return True
    passkeys = Passkey.filter(user_id=user.id)
    if passkey_id is not None:
        passkeys = passkeys.exclude(id=passkey_id)
    return await passkeys.exists()
