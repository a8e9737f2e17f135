"""Social sign-in: the redirect flow, id_token sign-in, identities and linking."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography.fernet import InvalidToken as BadFlowCookie
from tortoise.exceptions import IntegrityError

from app.auth.identifiers import normalize_email
from app.auth.links import LinkTarget, allowed_origins, allowed_target, build_link
from app.auth.providers import ProviderRegistry
from app.auth.providers.oauth import IdTokenProvider, OAuthClient, Profile, pkce_pair
from app.auth.secrets import SecretBox, new_token
from app.config import Settings, SocialProvider
from app.errors import (
    AppError,
    Forbidden,
    InvalidCredentials,
    InvalidPayload,
    InvalidProvider,
    InvalidToken,
    RecordNotUnique,
)
from app.models import Identity, Role, Status, User
from app.services import audit, one_time
from app.services.client import ClientInfo
from app.services.mfa import MfaService
from app.services.reclaim import hand_over
from app.services.revocations import in_transaction
from app.services.sessions import IssuedTokens, SessionService
from app.services.ways_in import keeps_a_way_in

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("app.social")

FLOW_TTL = 600  # seconds a browser has to come back from the provider
OTP_TICKET_TTL = 300  # seconds to type the second factor after a social sign-in


@dataclass(frozen=True)
class Outcome:
    """How a callback ended: signed in (`issued`), linked (neither), or waiting for the
    second factor (`otp_ticket`, a sealed note for the OTP page)."""

    user: User
    issued: IssuedTokens | None = None
    otp_ticket: str | None = None
    redirect: LinkTarget | None = None


@dataclass(frozen=True)
class Flow:
    """What the redirect flow must remember between leaving and coming back: kept in an
    encrypted, short-lived cookie, so nothing server-side and nothing readable."""

    provider: str
    state: str
    nonce: str
    verifier: str
    redirect: str | None
    link_user_id: str | None


class SocialService:
    def __init__(
        self,
        settings: Settings,
        sessions: SessionService,
        mfa: MfaService,
        registry: ProviderRegistry,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.mfa = mfa
        self.box = SecretBox(settings.secret, purpose="oauth-flow")
        self.tickets = SecretBox(settings.secret, purpose="oauth-otp-ticket")
        self.clients: dict[str, OAuthClient] = {}
        for config in settings.social_providers:
            callback = f"{settings.public_url}/auth/login/{config.name}/callback"
            client = OAuthClient(config, callback, transport)
            self.clients[config.name] = client
            registry.register(IdTokenProvider(client, self.find_user))
        # Where a sign-in may end up: every provider's redirect allow list.
        entries = tuple(entry for config in settings.social_providers for entry in config.redirect_allow_list)
        self.return_origins = allowed_origins(entries)

    def client(self, name: str) -> OAuthClient:
        try:
            return self.clients[name]
        except KeyError:
            raise InvalidProvider() from None

    # --- the redirect flow ------------------------------------------------------------------

    def redirect_target(self, name: str, redirect: str | None) -> LinkTarget | None:
        """Where the browser goes back to: checked when the flow starts and again on the way
        back (the flow keeps the rebuilt URL; the allow list may have changed meanwhile)."""
        if not redirect:
            return None
        allow = self.client(name).config.redirect_allow_list
        return allowed_target(redirect, allow, self.settings.public_url)

    async def start(self, name: str, redirect: str | None, link_user: User | None) -> tuple[str, str]:
        """(provider URL to send the browser to, sealed flow for the cookie)."""
        client = self.client(name)
        verifier, challenge = pkce_pair()
        target = self.redirect_target(name, redirect)
        flow = Flow(
            provider=name,
            state=new_token(24),
            nonce=new_token(24),
            verifier=verifier,
            redirect=build_link(target) if target else None,
            link_user_id=str(link_user.id) if link_user else None,
        )
        url = await client.authorize_url(flow.state, flow.nonce, challenge)
        return url, self.box.seal(json.dumps(flow.__dict__))

    def open_flow(self, sealed: str | None, name: str) -> Flow | None:
        if not sealed:
            return None
        try:
            raw = self.box.open_with_ttl(sealed, FLOW_TTL)
        except BadFlowCookie:
            return None
        flow = Flow(**json.loads(raw))
        return flow if flow.provider == name else None

    async def finish(self, flow: Flow, code: str, state: str, client_info: ClientInfo) -> Outcome:
        """The callback: state, code exchange (with the PKCE verifier), profile, user."""
        if not state or state != flow.state:
            raise InvalidToken("The sign-in state does not match; start again.")
        if not code or len(code) > 2048:
            raise InvalidCredentials()
        client = self.client(flow.provider)
        back = self.redirect_target(flow.provider, flow.redirect)
        tokens = await client.exchange(code, flow.verifier)
        profile = await client.profile(tokens, nonce=flow.nonce)
        if flow.link_user_id:
            user = await self.link(flow.link_user_id, client.config, profile, client_info)
            return Outcome(user, redirect=back)
        user = await self.find_user(client.config, profile)
        user.check_can_sign_in()
        if user.tfa_enabled:
            # The provider proved the first factor; the second is asked on our own page.
            ticket = json.dumps({"user_id": str(user.id), "provider": flow.provider, "redirect": flow.redirect})
            return Outcome(user, otp_ticket=self.tickets.seal(ticket))
        issued = await self._signed_in(user, flow.provider, client_info)
        return Outcome(user, issued=issued, redirect=back)

    async def finish_second_factor(self, sealed: str | None, otp: str, client_info: ClientInfo) -> Outcome:
        """The page after a social sign-in of an account with MFA: a fresh code completes it."""
        try:
            ticket = json.loads(self.tickets.open_with_ttl(sealed or "", OTP_TICKET_TTL))
        except (BadFlowCookie, ValueError):
            raise InvalidToken("The sign-in has expired; start again.") from None
        user = await User.get_or_none(id=ticket["user_id"])
        if user is None:
            raise InvalidToken()
        user.check_can_sign_in()
        try:
            # The account's one budget for codes, the same as at any other sign-in.
            await self.mfa.check(user, otp, client_info)
        except AppError as error:
            await audit.record(
                "login.failed", user_id=user.id, client=client_info, provider=ticket["provider"], code=error.code
            )
            raise
        back = self.redirect_target(ticket["provider"], ticket["redirect"])
        issued = await self._signed_in(user, ticket["provider"], client_info)
        return Outcome(user, issued=issued, redirect=back)

    async def _signed_in(self, user: User, provider: str, client_info: ClientInfo) -> IssuedTokens:
        issued = await self.sessions.open(user, client_info)
        await audit.record("login", user_id=user.id, client=client_info, provider=provider)
        return issued

    # --- users and identities ---------------------------------------------------------------

    async def find_user(self, config: SocialProvider, profile: Profile) -> User:
        """The identity's user; else an existing account with the same email, but only when
        the provider vouches for that email; else a new user when registration is open."""
        identity = await Identity.filter(provider=config.name, subject=profile.subject).select_related("user").first()
        if identity is not None:
            user: User = identity.user
            return user
        email = _vouched_email(profile)
        if email and (existing := await User.by_email(email)) is not None:
            async with in_transaction():
                locked = await one_time.lock_user(existing.id)
                if locked is None:
                    raise InvalidCredentials()
                if not locked.email_verified:
                    # The provider proves the address for the first time: what the
                    # unproven holder set up (a password, a phone, identities) goes first.
                    await hand_over(locked, self.sessions)
                    locked.email_verified = True
                    await locked.save(update_fields=["email_verified"])
                await self._add_identity(locked, config, profile)
            return locked
        if not config.allow_public_registration:
            raise InvalidCredentials()
        return await self._register(config, profile, email)

    async def create_from_id_token(
        self, name: str, id_token: str, *, name_hint: str | None = None, by_admin: bool = False
    ) -> User:
        """Graphcool's createUser(authProvider: {auth0|oidc}): a new account or RECORD_NOT_UNIQUE.
        Needs AUTH_<NAME>_ALLOW_PUBLIC_REGISTRATION unless an admin asks."""
        client = self.client(name)
        if not client.config.allow_public_registration and not by_admin:
            raise Forbidden()
        profile = await client.verify_id_token(id_token)
        if await Identity.filter(provider=name, subject=profile.subject).exists():
            raise RecordNotUnique("This identity already has an account.")
        email = _vouched_email(profile)
        if email and await User.by_email(email) is not None:
            raise RecordNotUnique('Value for field "email" in collection "users" has to be unique.')
        return await self._register(client.config, profile, email, name_hint)

    async def link(self, user_id: str, config: SocialProvider, profile: Profile, client: ClientInfo) -> User:
        user = await User.get_or_none(id=user_id)
        if user is None:
            raise InvalidToken()
        existing = await Identity.filter(provider=config.name, subject=profile.subject).first()
        if existing is not None and str(existing.user_id) != user_id:
            raise RecordNotUnique("This identity belongs to another account.")
        if existing is None:
            await self._add_identity(user, config, profile)
            await audit.record("identity.linked", user_id=user.id, client=client, provider=config.name)
        return user

    async def identities(self, user: User) -> list[Identity]:
        return list(await Identity.filter(user_id=user.id).order_by("created_at"))

    async def unlink(self, user: User, provider: str, client: ClientInfo) -> None:
        """Never the last way in: a password, a phone, another identity or a passkey must
        remain (app/services/ways_in.py)."""
        async with in_transaction():
            locked = await one_time.lock_user(user.id)
            if locked is None or not await Identity.filter(user_id=user.id, provider=provider).exists():
                raise InvalidProvider()
            if not await keeps_a_way_in(locked, provider=provider):
                raise InvalidPayload("This is the last way to sign in to the account.")
            await Identity.filter(user_id=user.id, provider=provider).delete()
        await audit.record("identity.unlinked", user_id=user.id, client=client, provider=provider)

    async def _register(
        self, config: SocialProvider, profile: Profile, email: str | None, name: str | None = None
    ) -> User:
        try:
            async with in_transaction():
                user = await User.create(
                    email=email,
                    email_verified=email is not None,
                    name=(name or profile.name or "")[:200] or None,
                    first_name=(profile.first_name or "")[:100] or None,
                    last_name=(profile.last_name or "")[:100] or None,
                    role=Role(config.default_role),
                    status=Status.active,
                )
                await self._add_identity(user, config, profile)
        except IntegrityError:
            raise RecordNotUnique("This account already exists.") from None
        await audit.record("user.created", user_id=user.id, provider=config.name, role=str(user.role))
        return user

    @staticmethod
    async def _add_identity(user: User, config: SocialProvider, profile: Profile) -> None:
        try:
            await Identity.create(user=user, provider=config.name, subject=profile.subject, email=_email(profile))
        except IntegrityError:
            raise RecordNotUnique("This identity belongs to another account.") from None


def _vouched_email(profile: Profile) -> str | None:
    """The profile's address only when the provider says it is verified. Any other address is
    a claim anyone can make at their own provider: it is kept on the identity, never matched
    against accounts (which would tell whether one exists, or hand someone else's account
    over) and never made an account's address (which would hold it against its owner)."""
    return _email(profile) if profile.email_verified else None


def _email(profile: Profile) -> str | None:
    if not profile.email:
        return None
    try:
        return normalize_email(profile.email)
    except InvalidPayload:
        return None
