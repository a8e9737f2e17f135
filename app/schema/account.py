"""The signed-in user's own account: MFA, sessions, profile, password, API tokens."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry import UNSET
from strawberry.permission import BasePermission
from strawberry.types import Info

from app.http.delivery import Mode
from app.models import Role
from app.models import User as UserModel
from app.schema.auth import tokens_out
from app.schema.connections import ApiTokenConnection, SessionConnection, connection
from app.schema.context import Context
from app.schema.ids import raw_id, to_global_id
from app.schema.permissions import IsAuthenticated, IsSessionUser
from app.schema.types import (
    ApiTokenInfo,
    ApiTokenSecret,
    AuthTokens,
    Session,
    TfaSecret,
    User,
    given,
)

signed_in: list[type[BasePermission]] = [IsAuthenticated]
# Everything that reads or changes the account's credentials: a session, never an API token.
with_session: list[type[BasePermission]] = [IsAuthenticated, IsSessionUser]


def me(info: Info[Context, None]) -> UserModel:
    user = info.context.viewer.user
    assert user is not None  # noqa: S101 - the permission classes ran first
    return user


@strawberry.type
class AccountQuery:
    @strawberry.field(permission_classes=with_session, description="Your live sessions, newest first.")
    async def users_me_sessions(
        self, info: Info[Context, None], first: int | None = UNSET, after: str | None = UNSET
    ) -> SessionConnection | None:
        ctx = info.context
        page = await ctx.services.sessions.live(str(me(info).id), given(first), after or None)
        edges, page_info = connection(page, lambda s: Session.from_model(s, ctx.viewer.session_id))
        return SessionConnection(edges=edges, pageInfo=page_info)

    @strawberry.field(permission_classes=with_session, description="Your API tokens (never their secrets).")
    async def api_tokens(
        self, info: Info[Context, None], first: int | None = UNSET, after: str | None = UNSET
    ) -> ApiTokenConnection | None:
        page = await info.context.services.api_tokens.list(me(info), given(first), after or None)
        edges, page_info = connection(page, ApiTokenInfo.from_model)
        return ApiTokenConnection(edges=edges, pageInfo=page_info)


@strawberry.type
class AccountMutation:
    @strawberry.mutation(permission_classes=with_session)
    async def users_me_tfa_generate(self, info: Info[Context, None], password: str) -> TfaSecret | None:
        services = info.context.services
        await services.account.verify_password(me(info), password, info.context.client, info.context.viewer.session_id)
        secret, url = await services.mfa.generate(me(info))
        return TfaSecret(secret=secret, otpauth_url=url)

    @strawberry.mutation(
        permission_classes=with_session,
        description="Only the secret users_me_tfa_generate returned, within 15 minutes; signs out every other session.",
    )
    async def users_me_tfa_enable(self, info: Info[Context, None], otp: str, secret: str) -> bool | None:
        ctx = info.context
        await ctx.services.mfa.enable(me(info), secret, otp, ctx.client, ctx.viewer.session_id)
        return True

    @strawberry.mutation(permission_classes=with_session)
    async def users_me_tfa_disable(self, info: Info[Context, None], otp: str) -> bool | None:
        await info.context.services.mfa.disable(me(info), otp, info.context.client)
        return True

    @strawberry.mutation(permission_classes=with_session, description="Ten single-use codes; replaces older ones.")
    async def users_me_tfa_recovery_codes(self, info: Info[Context, None], otp: str) -> list[str] | None:
        return await info.context.services.mfa.new_recovery_codes(me(info), otp, info.context.client)

    @strawberry.mutation
    async def auth_magic_link_request(
        self, info: Info[Context, None], email: str, redirect_url: str | None = UNSET
    ) -> bool | None:
        await info.context.auth.request_magic_link(email, redirect_url or None)
        return True

    @strawberry.mutation
    async def auth_magic_link_login(
        self,
        info: Info[Context, None],
        token: str,
        mode: Mode | None = Mode.json,
        otp: str | None = UNSET,
    ) -> AuthTokens | None:
        ctx = info.context
        issued = await ctx.auth.magic_link_login(token, ctx.client, otp or None)
        return tokens_out(ctx, issued, mode)

    @strawberry.mutation(permission_classes=with_session)
    async def auth_session_revoke(self, info: Info[Context, None], id: strawberry.ID) -> bool | None:  # noqa: A002
        await info.context.services.sessions.revoke(str(me(info).id), raw_id(id, "Session"))
        return True

    @strawberry.mutation(permission_classes=with_session, description="Sign out everywhere; returns how many sessions.")
    async def auth_sessions_revoke_all(self, info: Info[Context, None], keep_current: bool | None = True) -> int | None:
        keep = info.context.viewer.session_id if keep_current is not False else None
        return await info.context.services.sessions.revoke_all(str(me(info).id), keep=keep)

    @strawberry.mutation(permission_classes=signed_in)
    async def users_me_update(
        self,
        info: Info[Context, None],
        first_name: str | None = UNSET,
        last_name: str | None = UNSET,
        name: str | None = UNSET,
    ) -> User | None:
        account = info.context.services.account
        user = await account.update_profile(me(info), given(first_name), given(last_name), given(name))
        return User.from_model(user)

    @strawberry.mutation(permission_classes=with_session, description="Signs out every other session.")
    async def users_me_password_update(
        self, info: Info[Context, None], password: str, new_password: str
    ) -> bool | None:
        ctx = info.context
        await ctx.services.account.change_password(me(info), password, new_password, ctx.viewer.session_id, ctx.client)
        return True

    @strawberry.mutation(permission_classes=with_session)
    async def users_me_delete(self, info: Info[Context, None], password: str) -> bool | None:
        await info.context.services.account.delete(me(info), password, info.context.client)
        return True

    @strawberry.mutation(permission_classes=signed_in, description="Mail a new verification link.")
    async def users_me_email_verify_request(
        self, info: Info[Context, None], verification_url: str | None = UNSET
    ) -> bool | None:
        await info.context.users.request_verification(me(info), verification_url or None)
        return True

    @strawberry.mutation(
        permission_classes=with_session,
        description="Needs a sign-in or re-authentication within 10 minutes, else `password` or `otp`.",
    )
    async def api_tokens_create(
        self,
        info: Info[Context, None],
        name: str,
        role: Role | None = UNSET,
        expires_at: datetime | None = UNSET,
        password: str | None = UNSET,
        otp: str | None = UNSET,
    ) -> ApiTokenSecret | None:
        ctx = info.context
        session_id = ctx.viewer.session_id
        assert session_id is not None  # noqa: S101 - IsSessionUser ran first
        await ctx.services.account.confirm_recent(me(info), session_id, given(password), given(otp), ctx.client)
        token, secret = await ctx.services.api_tokens.create(me(info), name, given(role), given(expires_at), ctx.client)
        return ApiTokenSecret(id=to_global_id("ApiToken", str(token.id)), token=secret)

    @strawberry.mutation(permission_classes=with_session)
    async def api_tokens_revoke(self, info: Info[Context, None], id: strawberry.ID) -> bool | None:  # noqa: A002
        await info.context.services.api_tokens.revoke(me(info), raw_id(id, "ApiToken"), info.context.client)
        return True
