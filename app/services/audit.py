"""The audit trail: sign-ins, failures, token theft, password/MFA/role changes, tokens."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from app import metrics
from app.models import AuditEvent
from app.services.client import ClientInfo

log = logging.getLogger("app.audit")


async def record(
    action: str,
    *,
    user_id: UUID | str | None = None,
    actor_id: UUID | str | None = None,
    client: ClientInfo | None = None,
    email: str | None = None,
    **detail: Any,
) -> None:
    """Write one event. Callers pass names and ids only, never a password or token."""
    metrics.audited(action, detail)
    client = client or ClientInfo()
    try:
        await AuditEvent.create(
            action=action,
            user_id=user_id,
            actor_id=actor_id,
            email=email,
            ip=client.ip,
            user_agent=(client.user_agent or "")[:512] or None,
            detail=detail or None,
        )
    except Exception:  # an audit hiccup must not turn a sign-in into a 500
        log.exception("could not record audit event %s", action)
