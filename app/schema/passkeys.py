"""Passkeys (WebAuthn) in GraphQL: options out as JSON, the browser's credential back in as
JSON; thin resolvers over PasskeyService."""

from __future__ import annotations

import strawberry
from strawberry import UNSET
from strawberry.scalars import JSON
from strawberry.types import Info

from app.http.delivery import Mode
from app.schema.account import me, with_session
from app.schema.auth import tokens_out
from app.schema.context import Context
from app.schema.ids import raw_id
from app.schema.types import AuthTokens, Passkey, given


@strawberry.type
class PasskeyQuery:
    @strawberry.field(permission_classes=with_session, description="Your passkeys, oldest first.")
    async def users_me_passkeys(self, info: Info[Context, None]) -> list[Passkey] | None:
        return [Passkey.from_model(p) for p in await info.context.services.passkeys.list(me(info))]


@strawberry.type
class PasskeyMutation:
    @strawberry.mutation(
        permission_classes=with_session,
        description=(
            "PublicKeyCredentialCreationOptions (JSON) for navigator.credentials.create(); needs a sign-in or "
            "re-authentication within 10 minutes, else `password` or `otp`."
        ),
    )
    async def users_me_passkey_register_options(
        self, info: Info[Context, None], password: str | None = UNSET, otp: str | None = UNSET
    ) -> JSON | None:
        ctx = info.context
        session_id = ctx.viewer.session_id
        assert session_id is not None  # noqa: S101 - IsSessionUser ran first
        # A passkey outlives the session: a stolen access token must not plant one.
        await ctx.services.account.confirm_recent(me(info), session_id, given(password), given(otp), ctx.client)
        return await ctx.services.passkeys.registration_options(me(info))  # type: ignore[return-value]

    @strawberry.mutation(permission_classes=with_session, description="What navigator.credentials.create() made.")
    async def users_me_passkey_register(
        self, info: Info[Context, None], credential: JSON, name: str | None = UNSET
    ) -> Passkey | None:
        ctx = info.context
        passkey = await ctx.services.passkeys.register(me(info), credential, given(name), ctx.client)
        return Passkey.from_model(passkey)

    @strawberry.mutation(permission_classes=with_session, description="Never the last way to sign in.")
    async def users_me_passkey_delete(self, info: Info[Context, None], id: strawberry.ID) -> bool | None:  # noqa: A002
        await info.context.services.passkeys.delete(me(info), raw_id(id, "Passkey"), info.context.client)
        return True

    @strawberry.mutation(
        description=(
            "PublicKeyCredentialRequestOptions (JSON) for navigator.credentials.get(); without `email`, "
            "for discoverable credentials."
        )
    )
    async def auth_passkey_login_options(self, info: Info[Context, None], email: str | None = UNSET) -> JSON | None:
        return await info.context.services.passkeys.login_options(given(email))  # type: ignore[return-value]

    @strawberry.mutation(description="Sign in with the credential navigator.credentials.get() returned; no otp needed.")
    async def auth_passkey_login(
        self, info: Info[Context, None], credential: JSON, mode: Mode | None = Mode.json
    ) -> AuthTokens | None:
        ctx = info.context
        issued = await ctx.services.passkeys.login(credential, ctx.client)
        return tokens_out(ctx, issued, mode)
