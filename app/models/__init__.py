"""All models; `app.models` is the one module path Tortoise and its migrations load."""

from app.models.api_token import ApiToken
from app.models.audit import AuditEvent
from app.models.identity import Identity
from app.models.mfa import RecoveryCode
from app.models.passkey import Ceremony, Passkey, WebAuthnChallenge
from app.models.phone_code import PhoneCode
from app.models.session import Session
from app.models.token import OneTimeToken, Purpose
from app.models.user import ROLE_RANK, Role, Status, User

__all__ = [
    "ROLE_RANK",
    "ApiToken",
    "AuditEvent",
    "Ceremony",
    "Identity",
    "OneTimeToken",
    "Passkey",
    "PhoneCode",
    "Purpose",
    "RecoveryCode",
    "Role",
    "Session",
    "Status",
    "User",
    "WebAuthnChallenge",
]
