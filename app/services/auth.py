"""Sign-in, refresh and sign-out: provider -> checks -> second factor -> session -> tokens."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from uuid import UUID

from app import metrics
from app.auth.identifiers import normalize_email, normalize_phone
from app.auth.links import build_link, link_target
from app.auth.providers import ProviderRegistry
from app.config import Settings
from app.errors import AppError, InvalidPayload
from app.mail_templates import MailTemplates
from app.models import Purpose, Status, User
from app.services import audit, one_time
from app.services.budgets import Budgets
from app.services.client import ClientInfo
from app.services.mfa import MfaService
from app.services.postbox import MailPurpose, Postbox
from app.services.reclaim import hand_over
from app.services.revocations import in_transaction
from app.services.sessions import IssuedTokens, SessionService
from app.services.timing import stall

MAGIC_LINK_PAGE = "/auth/pages/magic-link"

log = logging.getLogger("app.auth")


class AuthService:
    def __init__(
        self,
        settings: Settings,
        registry: ProviderRegistry,
        sessions: SessionService,
        mfa: MfaService,
        post: Postbox,
        templates: MailTemplates,
        budgets: Budgets,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.sessions = sessions
        self.mfa = mfa
        self.post = post
        self.templates = templates
        # Guesses per account, whatever the IP: credential stuffing from many addresses
        # meets the same wall, and existing and unknown emails count alike.
        self.budgets = budgets

    async def login(
        self,
        provider: str,
        payload: Mapping[str, str],
        client: ClientInfo,
        otp: str | None = None,
    ) -> IssuedTokens:
        async with self._stall():
            user: User | None = None
            account = _account_key(provider, payload)
            try:
                guess = (
                    self.budgets.sign_in_guess(account, await self._device_user(account, client), client)
                    if account
                    else nullcontext()
                )
                async with guess:
                    user = await self.registry.get(provider).authenticate(payload)
                user.check_can_sign_in()
                await self.mfa.check(user, otp, client)
            except AppError as error:
                await audit.record(
                    "login.failed",
                    user_id=user.id if user else None,
                    email=_email_of(payload) if user is None else None,
                    client=client,
                    provider=provider,
                    code=error.code,
                )
                raise
            issued = await self.sessions.open(user, client)
            await audit.record("login", user_id=user.id, client=client, provider=provider)
            return issued

    async def refresh(self, refresh_token: str | None) -> IssuedTokens:
        if not refresh_token:
            raise InvalidPayload("The refresh token is required in either the payload or cookie.")
        try:
            issued = await self.sessions.rotate(refresh_token)
        except AppError as error:
            metrics.refreshes.labels(error.code).inc()
            raise
        metrics.refreshes.labels("success").inc()
        return issued

    async def logout(self, refresh_token: str | None) -> None:
        if not refresh_token:
            raise InvalidPayload("The refresh token is required in either the payload or cookie.")
        await self.sessions.revoke_by_token(refresh_token)

    async def request_magic_link(self, email: str, redirect_url: str | None) -> None:
        """Mail a one-time sign-in link; the same answer whether or not the email exists."""
        address = normalize_email(email)
        settings = self.settings
        target = link_target(redirect_url, settings.magic_link_url_allow_list, settings.public_url, MAGIC_LINK_PAGE)
        async with self._stall():
            user = await User.by_email(address)
            if user is None or user.status not in (Status.active, Status.unverified):
                return
            token = await one_time.issue(user, Purpose.magic_link, self.settings.magic_link_ttl)
            link = build_link(target, token=token)
            mail = self.templates.render("magic_link", address, link=link, expires_in=self.settings.magic_link_ttl)
            self.post.send_soon(mail, MailPurpose.magic_link, on_failure=lambda: one_time.discard(token))

    async def magic_link_login(self, token: str, client: ClientInfo, otp: str | None = None) -> IssuedTokens:
        async def gate(user: User) -> None:
            if user.status == Status.unverified:
                user.status = Status.active  # the mail proves the address
                await user.save(update_fields=["status"])
            user.check_can_sign_in()
            await self.mfa.check(user, otp, client)

        async with self._stall():
            try:
                async with in_transaction():
                    user = await one_time.consume(token, Purpose.magic_link, check=gate)
                    if not user.email_verified:
                        # The first proof of the address: what an unproven holder set up goes.
                        await hand_over(user, self.sessions)
                        user.email_verified = True
                        await user.save(update_fields=["email_verified"])
                    # In the same transaction (under the user lock): a reset or password
                    # change racing with this sign-in either voids the link first or
                    # revokes the session it opens.
                    issued = await self.sessions.open(user, client)
            except AppError as error:
                await audit.record("login.failed", client=client, provider="magic_link", code=error.code)
                raise
            await audit.record("login", user_id=user.id, client=client, provider="magic_link")
            return issued

    def _stall(self) -> AbstractAsyncContextManager[None]:
        return stall(self.settings.login_stall_time)

    async def _device_user(self, account: str, client: ClientInfo) -> UUID | None:
        """The account's user id when the client presents a device cookie (the cookie names
        users, the sign-in names an email or phone); no lookup without one."""
        if not client.device:
            return None
        kind, _, value = account.partition(":")
        user = await (User.by_email(value) if kind == "email" else User.by_phone(value))
        return user.id if user else None


def _account_key(provider: str, payload: Mapping[str, str]) -> str | None:
    """Whom a sign-in attempt is about: the normalised email or phone, else None."""
    if provider == "email":
        email = _email_of(payload)
        return f"email:{email}" if email else None
    if provider == "phone":
        try:
            return f"phone:{normalize_phone(payload.get('phone') or '')}"
        except InvalidPayload:
            return None
    return None


def _email_of(payload: Mapping[str, str]) -> str | None:
    try:
        return normalize_email(payload.get("email") or "")
    except InvalidPayload:
        return None
