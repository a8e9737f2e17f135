"""Everything a request needs, built once per app and passed in (tests build their own)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from limits.aio.storage import Storage

from app.auth.devices import DeviceCookies
from app.auth.passwords import Passwords
from app.auth.providers import ProviderRegistry
from app.auth.providers.email import EmailProvider
from app.auth.providers.phone import PhoneProvider
from app.auth.throttle import redis_pool, storage_for
from app.auth.tokens import AccessTokens, RefreshTokens
from app.config import Settings
from app.mail import Mailer, MailQueue, mailer_for
from app.mail_templates import MailTemplates
from app.services import revocations
from app.services.account import AccountService
from app.services.admin import AdminService
from app.services.api_tokens import ApiTokenService
from app.services.auth import AuthService
from app.services.budgets import Budgets
from app.services.invalidation_feed import InvalidationFeed
from app.services.live_sessions import LiveSessions
from app.services.mfa import MfaService
from app.services.notices import SignInNotices
from app.services.passkeys import PasskeyService
from app.services.phone_codes import PhoneCodes
from app.services.postbox import Postbox
from app.services.sessions import SessionService
from app.services.social import SocialService
from app.services.users import UserService
from app.sms import SmsSender, sms_sender_for

if TYPE_CHECKING:
    import coredis  # with Redis only (app/auth/throttle.py)
    import httpx


@dataclass(frozen=True)
class Services:
    settings: Settings
    passwords: Passwords
    access_tokens: AccessTokens
    registry: ProviderRegistry
    mailer: Mailer
    mail_queue: MailQueue
    sessions: SessionService
    mfa: MfaService
    auth: AuthService
    users: UserService
    account: AccountService
    admin: AdminService
    api_tokens: ApiTokenService
    phone_codes: PhoneCodes
    social: SocialService
    passkeys: PasskeyService
    budgets: Budgets
    counters: Storage  # rate limits and attempt counts (memory or Redis)
    counters_pool: coredis.ConnectionPool | None  # the Redis connections of `counters`
    # The live-session cache and, on PostgreSQL, the feed that keeps it true across instances.
    live: LiveSessions | None
    feed: InvalidationFeed | None

    @classmethod
    def build(
        cls,
        settings: Settings,
        mailer: Mailer | None = None,
        sms: SmsSender | None = None,
        http_transport: httpx.AsyncBaseTransport | None = None,
    ) -> Services:
        """`http_transport` carries outbound calls to OAuth providers and to the password breach
        check (tests may pin one)."""
        passwords = Passwords(settings, http_transport)
        access = AccessTokens(settings)
        registry = ProviderRegistry()
        if not settings.auth_disable_default:
            registry.register(EmailProvider(passwords))
        mailer = mailer or mailer_for(settings)
        mail_queue = MailQueue(mailer)
        templates = MailTemplates(settings)  # an override is checked now: a broken one stops start-up
        pool = redis_pool(settings)
        counters = storage_for(settings, pool)
        phone_codes = PhoneCodes(settings, sms or sms_sender_for(settings), counters)
        registry.register(PhoneProvider(phone_codes))
        devices = DeviceCookies(settings.secret)
        live = LiveSessions(settings.session_cache_ttl) if settings.session_cache_ttl > 0 else None
        feed = None
        if live is not None:
            revocations.register(live)
            if not settings.database_url.startswith("sqlite"):
                # Several instances may share the database: trusted only while listening.
                feed = InvalidationFeed(live)
                live.trusted = False
        budgets = Budgets(settings, counters, devices)
        post = Postbox(mailer, mail_queue, budgets)
        notices = SignInNotices(settings, devices, post, templates)
        sessions = SessionService(settings, access, RefreshTokens(settings), devices, notices, live)
        mfa = MfaService(settings, budgets, sessions)
        social = SocialService(settings, sessions, mfa, registry, http_transport)
        return cls(
            settings=settings,
            passwords=passwords,
            access_tokens=access,
            registry=registry,
            mailer=mailer,
            mail_queue=mail_queue,
            sessions=sessions,
            mfa=mfa,
            auth=AuthService(settings, registry, sessions, mfa, post, templates, budgets),
            users=UserService(settings, passwords, post, templates, sessions, phone_codes),
            account=AccountService(passwords, sessions, budgets, mfa),
            admin=AdminService(settings, passwords, post, templates, sessions),
            api_tokens=ApiTokenService(),
            phone_codes=phone_codes,
            social=social,
            passkeys=PasskeyService(settings, sessions, budgets),
            budgets=budgets,
            counters=counters,
            counters_pool=pool,
            live=live,
            feed=feed,
        )

    def start(self) -> None:
        """Background work that needs the running loop and the database (the app's lifespan)."""
        if self.feed is not None:
            self.feed.start()

    async def close(self) -> None:
        if self.feed is not None:
            await self.feed.stop()
        await self.mail_queue.drain()
        self.passwords.close()
        await self.passwords.policy.aclose()
        if self.counters_pool is not None:
            self.counters_pool.disconnect()
