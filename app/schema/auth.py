"""Directus's auth mutations: thin resolvers over AuthService / UserService."""

from __future__ import annotations

import strawberry
from strawberry import UNSET
from strawberry.types import Info

from app.http.delivery import Mode, clear_session_cookies, deliver, presented_refresh_token, set_cookies
from app.schema.context import Context
from app.schema.types import AuthTokens
from app.services.sessions import IssuedTokens


def tokens_out(ctx: Context, issued: IssuedTokens, mode: Mode | None, presented_in: Mode | None = None) -> AuthTokens:
    """Deliver `issued` in the mode (its cookies on the response) and return the body."""
    body, jar = deliver(issued, mode or Mode.json, ctx.settings, presented_in=presented_in)
    set_cookies(ctx.response, jar)
    return AuthTokens.from_body(body)


@strawberry.type
class AuthMutation:
    @strawberry.mutation
    async def auth_login(
        self,
        info: Info[Context, None],
        email: str,
        password: str,
        mode: Mode | None = Mode.json,
        otp: str | None = UNSET,
    ) -> AuthTokens | None:
        ctx = info.context
        issued = await ctx.auth.login("email", {"email": email, "password": password}, ctx.client, otp=otp or None)
        return tokens_out(ctx, issued, mode)

    @strawberry.mutation
    async def auth_refresh(
        self, info: Info[Context, None], refresh_token: str | None = UNSET, mode: Mode | None = Mode.json
    ) -> AuthTokens | None:
        ctx = info.context
        presented = presented_refresh_token(ctx.request, ctx.settings, mode, refresh_token)
        issued = await ctx.auth.refresh(presented.token)
        return tokens_out(ctx, issued, mode, presented.cookie)

    @strawberry.mutation
    async def auth_logout(
        self, info: Info[Context, None], refresh_token: str | None = UNSET, mode: Mode | None = Mode.json
    ) -> bool | None:
        ctx = info.context
        await ctx.auth.logout(presented_refresh_token(ctx.request, ctx.settings, mode, refresh_token).token)
        clear_session_cookies(ctx.response, ctx.settings)
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
