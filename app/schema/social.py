"""Social sign-in in GraphQL: configured providers and the viewer's identities."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from app.schema.account import me, with_session
from app.schema.context import Context
from app.schema.types import AuthProvider, Identity


@strawberry.type
class SocialQuery:
    @strawberry.field(description="GraphQL twin of GET /auth: the configured social providers.")
    def auth_providers(self, info: Info[Context, None]) -> list[AuthProvider]:
        settings = info.context.settings
        return [
            AuthProvider(
                name=p.name, driver=p.driver, icon=p.icon, label=p.label, disableDefault=settings.auth_disable_default
            )
            for p in settings.social_providers
        ]

    @strawberry.field(description="True when email/password sign-in is turned off (AUTH_DISABLE_DEFAULT).")
    def auth_providers_disable_default(self, info: Info[Context, None]) -> bool:
        return info.context.settings.auth_disable_default

    @strawberry.field(permission_classes=with_session, description="Social sign-ins linked to your account.")
    async def users_me_identities(self, info: Info[Context, None]) -> list[Identity] | None:
        return [Identity.from_model(i) for i in await info.context.services.social.identities(me(info))]


@strawberry.type
class SocialMutation:
    @strawberry.mutation(permission_classes=with_session, description="Never the last way to sign in.")
    async def users_me_identity_unlink(self, info: Info[Context, None], provider: str) -> bool | None:
        await info.context.services.social.unlink(me(info), provider, info.context.client)
        return True
