"""Removing what can no longer be used: ended sessions, spent or expired codes and tokens."""

from __future__ import annotations

from datetime import timedelta

from tortoise.expressions import Q

from app.models import OneTimeToken, PhoneCode, Session, WebAuthnChallenge
from app.services.client import now

# Ended sessions stay a while so that users_me_sessions and support can explain a sign-out.
KEEP_ENDED_SESSIONS = timedelta(days=30)


async def prune() -> dict[str, int]:
    """Delete expired or revoked sessions older than 30 days, and used or expired one-time
    tokens, phone codes and passkey challenges; returns how many rows of each went."""
    moment = now()
    cutoff = moment - KEEP_ENDED_SESSIONS
    return {
        "sessions": await Session.filter(Q(expires_at__lt=cutoff) | Q(revoked_at__lt=cutoff)).delete(),
        "one_time_tokens": await OneTimeToken.filter(Q(expires_at__lt=moment) | Q(used_at__isnull=False)).delete(),
        "phone_codes": await PhoneCode.filter(Q(expires_at__lt=moment) | Q(used_at__isnull=False)).delete(),
        "webauthn_challenges": await WebAuthnChallenge.filter(
            Q(expires_at__lt=moment) | Q(used_at__isnull=False)
        ).delete(),
    }
