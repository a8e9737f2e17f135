"""Relay's node lookup: the rows a signed-in user may fetch by id."""

from __future__ import annotations

from collections.abc import Sequence

from app.models import ApiToken, Passkey, Session, User

Row = User | Session | ApiToken | Passkey


async def visible(viewer_id: str, refs: Sequence[tuple[str, str | None]]) -> list[Row | None]:
    """One row per (type name, id), in order: any user (their private fields are guarded
    where they are shown), and the viewer's own sessions, API tokens and passkeys. Anything else, or
    anything not visible, is None. One query per type, however many ids."""

    def of(kind: str) -> list[str]:
        return [row_id for type_name, row_id in refs if type_name == kind and row_id]

    found: dict[tuple[str, str], Row] = {}
    if users := of("User"):
        for user in await User.filter(id__in=users):
            found["User", str(user.id)] = user
    if sessions := of("Session"):
        for session in await Session.filter(id__in=sessions, user_id=viewer_id):
            found["Session", str(session.id)] = session
    if tokens := of("ApiToken"):
        for token in await ApiToken.filter(id__in=tokens, user_id=viewer_id):
            found["ApiToken", str(token.id)] = token
    if passkeys := of("Passkey"):
        for passkey in await Passkey.filter(id__in=passkeys, user_id=viewer_id):
            found["Passkey", str(passkey.id)] = passkey
    return [found.get((type_name, row_id)) if row_id else None for type_name, row_id in refs]
