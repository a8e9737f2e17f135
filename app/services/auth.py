"""Sign-in, refresh and sign-out: provider -> checks -> session -> tokens."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from app.auth.providers import ProviderRegistry
from app.config import Settings
from app.errors import InvalidOtp, InvalidPayload
from app.models import User
from app.services.client import ClientInfo
from app.services.sessions import IssuedTokens, SessionService, check_can_sign_in


class AuthService:
    def __init__(self, settings: Settings, registry: ProviderRegistry, sessions: SessionService) -> None:
        self.settings = settings
        self.registry = registry
        self.sessions = sessions

    async def login(
        self,
        provider: str,
        payload: Mapping[str, str],
        client: ClientInfo,
        otp: str | None = None,
    ) -> IssuedTokens:
        async with self._stall():
            user = await self.registry.get(provider).authenticate(payload)
            check_can_sign_in(user)
            self._check_mfa(user, otp)
            return await self.sessions.open(user, client)

    async def refresh(self, refresh_token: str | None) -> IssuedTokens:
        if not refresh_token:
            raise InvalidPayload("The refresh token is required in either the payload or cookie.")
        return await self.sessions.rotate(refresh_token)

    async def logout(self, refresh_token: str | None) -> None:
        if not refresh_token:
            raise InvalidPayload("The refresh token is required in either the payload or cookie.")
        await self.sessions.revoke_by_token(refresh_token)

    def _check_mfa(self, user: User, otp: str | None) -> None:
        # TOTP verification arrives with the MFA issue; until then an account that has a
        # second factor can never pass the first alone.
        if user.tfa_enabled:
            raise InvalidOtp()

    @asynccontextmanager
    async def _stall(self) -> AsyncIterator[None]:
        """LOGIN_STALL_TIME: success and every failure take at least this long, so response
        time says nothing about which emails exist."""
        started = time.monotonic()
        try:
            yield
        finally:
            remaining = self.settings.login_stall_time - (time.monotonic() - started)
            if remaining > 0:
                await asyncio.sleep(remaining)
