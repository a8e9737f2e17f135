"""Everything a request needs, built once per app and passed in (tests build their own)."""

from __future__ import annotations

from dataclasses import dataclass

from app.auth.passwords import Passwords
from app.auth.providers import ProviderRegistry
from app.auth.providers.email import EmailProvider
from app.auth.tokens import AccessTokens, RefreshTokens
from app.config import Settings
from app.mail import Mailer, mailer_for
from app.services.account import AccountService
from app.services.admin import AdminService
from app.services.api_tokens import ApiTokenService
from app.services.auth import AuthService
from app.services.mfa import MfaService
from app.services.sessions import SessionService
from app.services.users import UserService


@dataclass(frozen=True)
class Services:
    settings: Settings
    passwords: Passwords
    access_tokens: AccessTokens
    registry: ProviderRegistry
    mailer: Mailer
    sessions: SessionService
    mfa: MfaService
    auth: AuthService
    users: UserService
    account: AccountService
    admin: AdminService
    api_tokens: ApiTokenService

    @classmethod
    def build(cls, settings: Settings, mailer: Mailer | None = None) -> Services:
        passwords = Passwords(settings)
        access = AccessTokens(settings)
        registry = ProviderRegistry()
        if not settings.auth_disable_default:
            registry.register(EmailProvider(passwords))
        mailer = mailer or mailer_for(settings)
        sessions = SessionService(settings, access, RefreshTokens(settings))
        mfa = MfaService(settings)
        return cls(
            settings=settings,
            passwords=passwords,
            access_tokens=access,
            registry=registry,
            mailer=mailer,
            sessions=sessions,
            mfa=mfa,
            auth=AuthService(settings, registry, sessions, mfa, mailer),
            users=UserService(settings, passwords, mailer, sessions),
            account=AccountService(passwords, sessions),
            admin=AdminService(settings, passwords, mailer, sessions),
            api_tokens=ApiTokenService(),
        )

    def close(self) -> None:
        self.passwords.close()
