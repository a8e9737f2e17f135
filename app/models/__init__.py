"""All models; `app.models` is the one module path Tortoise and its migrations load."""

from app.models.session import Session
from app.models.token import OneTimeToken, Purpose
from app.models.user import Role, Status, User

__all__ = ["OneTimeToken", "Purpose", "Role", "Session", "Status", "User"]
