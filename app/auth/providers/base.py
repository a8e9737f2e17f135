from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from app.models import User


class Provider(Protocol):
    """A way to prove who you are. `authenticate` returns the user or raises
    InvalidCredentials; it never reveals which part was wrong."""

    name: str

    async def authenticate(self, payload: Mapping[str, str]) -> User: ...
