"""Graphcool's createUser / signinUser, Directus's users_register(_verify), the session
user queries and Relay's node lookup."""

from __future__ import annotations

from collections.abc import Mapping

import strawberry
from strawberry import UNSET
from strawberry.types import Info

from app.errors import Forbidden, InvalidPayload, InvalidProvider
from app.http.delivery import Mode, TokenBody, deliver, set_cookies
from app.models import ApiToken as ApiTokenModel
from app.models import Passkey as PasskeyModel
from app.models import Session as SessionModel
from app.models import User as UserModel
from app.schema.context import Context
from app.schema.ids import as_uuid, from_global_id
from app.schema.types import (
    ApiTokenInfo,
    AuthProviderAuth0,
    AuthProviderEmail,
    AuthProviderOidc,
    AuthProviderPhone,
    AuthProviderSignupData,
    Node,
    Passkey,
    Session,
    SigninPayload,
    User,
    given,
)
from app.services import nodes

MAX_NODE_IDS = 100


def chosen_provider(
    email: AuthProviderEmail | None,
    phone: AuthProviderPhone | None,
    auth0: AuthProviderAuth0 | None,
    oidc: AuthProviderOidc | None,
) -> tuple[str, Mapping[str, str]]:
    """Graphcool's provider inputs: exactly one must be set (an explicit null is unset)."""
    email, phone, auth0, oidc = given(email), given(phone), given(auth0), given(oidc)
    members = [m for m in (email, phone, auth0, oidc) if m is not None]
    if len(members) != 1:
        raise InvalidPayload("Exactly one auth provider must be given.")
    if email is not None:
        return "email", {"email": email.email, "password": email.password}
    if phone is not None:
        return "phone", {"phone": phone.phone, "code": phone.code}
    if auth0 is not None:
        return "auth0", {"idToken": auth0.idToken}
    assert oidc is not None  # noqa: S101 - exactly one member is set
    if oidc.provider in ("email", "phone"):
        raise InvalidProvider()  # only social providers take an id_token
    return oidc.provider, {"idToken": oidc.idToken}


async def create_user(ctx: Context, auth_provider: AuthProviderSignupData, name: str | None) -> User:
    if not ctx.settings.public_registration and ctx.viewer.role != "admin":
        raise Forbidden()
    provider, payload = chosen_provider(
        auth_provider.email, auth_provider.phone, auth_provider.auth0, auth_provider.oidc
    )
    ctx.services.registry.get(provider)  # INVALID_PROVIDER when not configured (or disabled)
    if provider == "email":
        user = await ctx.users.create_with_password(payload["email"], payload["password"], name=name)
    elif provider == "phone":
        user = await ctx.users.create_with_phone(payload["phone"], payload["code"], name=name)
    else:
        user = await ctx.services.social.create_from_id_token(
            provider, payload["idToken"], name_hint=name, by_admin=ctx.viewer.role == "admin"
        )
    return User.from_model(user, revealed=True)


async def signin_user(ctx: Context, provider: str, payload: Mapping[str, str]) -> tuple[TokenBody, UserModel]:
    issued = await ctx.auth.login(provider, payload, ctx.client)
    # Graphcool answers both tokens, as the `json` mode does (and sets the device cookie).
    body, jar = deliver(issued, Mode.json, ctx.settings)
    set_cookies(ctx.response, jar)
    return body, issued.user


@strawberry.type
class UserMutation:
    @strawberry.mutation(name="createUser")
    async def create_user(
        self,
        info: Info[Context, None],
        authProvider: AuthProviderSignupData,  # noqa: N803 - Graphcool's name
        name: str | None = UNSET,
    ) -> User | None:
        return await create_user(info.context, authProvider, name or None)

    @strawberry.mutation(name="signinUser")
    async def signin_user(
        self,
        info: Info[Context, None],
        email: AuthProviderEmail | None = UNSET,
        phone: AuthProviderPhone | None = UNSET,
        auth0: AuthProviderAuth0 | None = UNSET,
        oidc: AuthProviderOidc | None = UNSET,
    ) -> SigninPayload | None:
        body, user = await signin_user(info.context, *chosen_provider(email, phone, auth0, oidc))
        user_out = User.from_model(user, revealed=True)
        return SigninPayload(token=body.access_token, refreshToken=body.refresh_token, user=user_out)


@strawberry.type
class RegistrationMutation:
    """Directus-style sign-up helpers, shared by both endpoints."""

    @strawberry.mutation(description="Text a 6-digit sign-in code to an E.164 number.")
    async def auth_phone_request(self, info: Info[Context, None], phone: str) -> bool | None:
        await info.context.services.phone_codes.request_code(phone, info.context.client)
        return True

    @strawberry.mutation
    async def users_register(
        self,
        info: Info[Context, None],
        email: str,
        password: str,
        first_name: str | None = UNSET,
        last_name: str | None = UNSET,
        verification_url: str | None = UNSET,
    ) -> bool | None:
        await info.context.users.register(
            email, password, first_name or None, last_name or None, verification_url or None
        )
        return True

    @strawberry.mutation
    async def users_register_verify(self, info: Info[Context, None], token: str) -> bool | None:
        await info.context.users.verify_email(token)
        return True


def session_user(ctx: Context) -> User | None:
    user = ctx.viewer.user
    return User.from_model(user) if user is not None else None


async def load_nodes(ctx: Context, ids: list[strawberry.ID]) -> list[Node | None]:
    """Users (other users' private fields stay guarded by IsOwnerOrAdmin), and the viewer's
    own sessions and API tokens. Anything else, or anything not visible, is null."""
    if len(ids) > MAX_NODE_IDS:
        raise InvalidPayload(f"At most {MAX_NODE_IDS} ids per request.")
    viewer = ctx.viewer
    if viewer.user is None:
        return [None for _ in ids]
    refs = [(type_name, as_uuid(raw)) for type_name, raw in (from_global_id(i) for i in ids)]
    return [_node(row, viewer.session_id) for row in await nodes.visible(str(viewer.user.id), refs)]


def _node(row: nodes.Row | None, current_session_id: str | None) -> Node | None:
    if isinstance(row, UserModel):
        return User.from_model(row)
    if isinstance(row, SessionModel):
        return Session.from_model(row, current_session_id)
    if isinstance(row, ApiTokenModel):
        return ApiTokenInfo.from_model(row)
    if isinstance(row, PasskeyModel):
        return Passkey.from_model(row)
    return None


@strawberry.type
class UserQuery:
    @strawberry.field(description="Graphcool: the session user, null for EVERYONE.")
    def user(self, info: Info[Context, None]) -> User | None:
        return session_user(info.context)

    @strawberry.field(description="Directus: the session user.")
    def users_me(self, info: Info[Context, None]) -> User | None:
        return session_user(info.context)

    @strawberry.field(description="Relay: any object by its global id.")
    async def node(self, info: Info[Context, None], id: strawberry.ID) -> Node | None:  # noqa: A002
        return (await load_nodes(info.context, [id]))[0]

    @strawberry.field(description="Relay: objects by their global ids, in order.")
    async def nodes(self, info: Info[Context, None], ids: list[strawberry.ID]) -> list[Node | None]:
        return await load_nodes(info.context, ids)
