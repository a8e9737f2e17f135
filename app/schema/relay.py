"""The `/graphql/relay` schema: Graphcool's Relay API shapes over the same resolvers."""

from __future__ import annotations

import strawberry
from strawberry import UNSET
from strawberry.tools import merge_types
from strawberry.types import Info

from app.config import Settings
from app.schema import SHARED_MUTATIONS, SHARED_QUERIES, Schema, config, execution_context_class, extensions
from app.schema.context import Context
from app.schema.ids import to_global_id
from app.schema.types import (
    AuthProviderAuth0,
    AuthProviderEmail,
    AuthProviderOidc,
    AuthProviderPhone,
    AuthProviderSignupData,
    Node,
    User,
    given,
)
from app.schema.users import UserQuery, chosen_provider, create_user, session_user, signin_user


@strawberry.type(name="Viewer")
class Viewer:
    id: strawberry.ID
    user: User | None

    @classmethod
    def of(cls, user: User | None) -> Viewer:
        return cls(id=to_global_id("Viewer", user.owner_id if user else "EVERYONE"), user=user)


@strawberry.input(name="SignupUserInput")
class SignupUserInput:
    authProvider: AuthProviderSignupData  # noqa: N815 - Graphcool's name
    name: str | None = UNSET
    clientMutationId: str | None = UNSET  # noqa: N815


@strawberry.input(name="SigninUserInput")
class SigninUserInput:
    email: AuthProviderEmail | None = UNSET
    phone: AuthProviderPhone | None = UNSET
    auth0: AuthProviderAuth0 | None = UNSET
    oidc: AuthProviderOidc | None = UNSET
    clientMutationId: str | None = UNSET  # noqa: N815


@strawberry.type(name="CreateUserPayload")
class CreateUserPayload:
    user: User | None
    clientMutationId: str | None  # noqa: N815
    viewer: Viewer


@strawberry.type(name="SigninPayload")
class RelaySigninPayload:
    token: str | None
    refreshToken: str | None  # noqa: N815
    user: User | None
    clientMutationId: str | None  # noqa: N815
    viewer: Viewer


@strawberry.type
class RelayMutation:
    @strawberry.mutation(name="createUser")
    async def create_user(self, info: Info[Context, None], input: SignupUserInput) -> CreateUserPayload | None:  # noqa: A002
        user = await create_user(info.context, input.authProvider, input.name or None)
        return CreateUserPayload(
            user=user, clientMutationId=given(input.clientMutationId), viewer=Viewer.of(session_user(info.context))
        )

    @strawberry.mutation(name="signinUser")
    async def signin_user(self, info: Info[Context, None], input: SigninUserInput) -> RelaySigninPayload | None:  # noqa: A002
        provider = chosen_provider(input.email, input.phone, input.auth0, input.oidc)
        body, model = await signin_user(info.context, *provider)
        user = User.from_model(model, revealed=True)
        return RelaySigninPayload(
            token=body.access_token,
            refreshToken=body.refresh_token,
            user=user,
            clientMutationId=given(input.clientMutationId),
            viewer=Viewer.of(user),
        )


@strawberry.type
class RelayQuery(UserQuery):
    @strawberry.field(description="The session user, as Graphcool's Relay API has it.")
    def viewer(self, info: Info[Context, None]) -> Viewer:
        return Viewer.of(session_user(info.context))


def build_relay_schema(settings: Settings | None = None) -> strawberry.Schema:
    # The same capabilities as /graphql; only Graphcool's mutations take the Relay shape.
    return Schema(
        query=merge_types("Query", (RelayQuery, *SHARED_QUERIES)),
        mutation=merge_types("Mutation", (RelayMutation, *SHARED_MUTATIONS)),
        types=[User, Node],
        config=config(),
        extensions=extensions(settings) if settings else [],
        execution_context_class=execution_context_class(settings),
    )
