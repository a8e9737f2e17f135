"""Directus's auth mutations: thin resolvers over AuthService / UserService."""

from __future__ import annotations

import strawberry
from strawberry import UNSET
from strawberry.types import Info

from app.http import cookies
from app.schema.context import Context
from app.schema.types import AuthMode, AuthTokens, GraphQLBigInt


def tokens_out(delivered: cookies.DeliveredTokens) -> AuthTokens:
    return AuthTokens(
        access_token=delivered.access_token,
        expires=GraphQLBigInt(delivered.expires),
        refresh_token=delivered.refresh_token,
    )


@strawberry.type
class AuthMutation:
    @strawberry.mutation
    async def auth_login(
        self,
        info: Info[Context, None],
        email: str,
        password: str,
        mode: AuthMode | None = AuthMode.json,
        otp: str | None = UNSET,
    ) -> AuthTokens | None:
        ctx = info.context
        issued = await ctx.auth.login("email", {"email": email, "password": password}, ctx.client, otp=otp or None)
        return tokens_out(cookies.deliver(ctx.response, ctx.settings, issued, mode_name(mode)))

    @strawberry.mutation
    async def auth_refresh(
        self, info: Info[Context, None], refresh_token: str | None = UNSET, mode: AuthMode | None = AuthMode.json
    ) -> AuthTokens | None:
        ctx = info.context
        presented = cookies.presented(ctx.request, ctx.settings, mode_name(mode), refresh_token)
        issued = await ctx.auth.refresh(presented.token)
        return tokens_out(cookies.deliver(ctx.response, ctx.settings, issued, presented.reply_mode))

    @strawberry.mutation
    async def auth_logout(
        self, info: Info[Context, None], refresh_token: str | None = UNSET, mode: AuthMode | None = AuthMode.json
    ) -> bool | None:
        ctx = info.context
        token = cookies.presented_refresh_token(ctx.request, ctx.settings, mode_name(mode), refresh_token)
        await ctx.auth.logout(token)
        cookies.clear(ctx.response, ctx.settings)
        return True

    @strawberry.mutation
    async def auth_password_request(
        self, info: Info[Context, None], email: str, reset_url: str | None = UNSET
    ) -> bool | None:
        await info.context.users.request_password_reset(email, reset_url or None)
        return True

    @strawberry.mutation
    async def auth_password_reset(self, info: Info[Context, None], token: str, password: str) -> bool | None:
        await info.context.users.reset_password(token, password)
        return True


def mode_name(mode: AuthMode | None) -> str:
    return (mode or AuthMode.json).value
