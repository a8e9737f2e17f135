"""The main schema (`/graphql`): Directus's auth API, Graphcool's Simple API, Relay nodes."""

from __future__ import annotations

from collections.abc import Sequence

import strawberry
from graphql import GraphQLError
from strawberry.extensions import DisableIntrospection
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from app.config import Settings
from app.schema.account import AccountMutation, AccountQuery
from app.schema.admin import AdminMutation, AdminQuery
from app.schema.auth import AuthMutation
from app.schema.extensions import CREDENTIAL_MUTATIONS, ErrorCodes, QuietExecutionContext, Validation, Validator
from app.schema.limits import Limits
from app.schema.metrics import OperationMetrics
from app.schema.passkeys import PasskeyMutation, PasskeyQuery
from app.schema.social import SocialMutation, SocialQuery
from app.schema.types import SCALARS, ApiTokenInfo, Passkey, Session, User
from app.schema.users import RegistrationMutation, UserMutation, UserQuery

# Everything but Graphcool's two mutations and the session-user queries, which each
# endpoint shapes its own way (Simple API here, Relay API in relay.py).
SHARED_QUERIES: tuple[type, ...] = (AccountQuery, SocialQuery, PasskeyQuery, AdminQuery)
SHARED_MUTATIONS: tuple[type, ...] = (
    AuthMutation,
    RegistrationMutation,
    AccountMutation,
    SocialMutation,
    PasskeyMutation,
    AdminMutation,
)
QUERIES: tuple[type, ...] = (UserQuery, *SHARED_QUERIES)
MUTATIONS: tuple[type, ...] = (
    AuthMutation,
    UserMutation,
    RegistrationMutation,
    AccountMutation,
    SocialMutation,
    PasskeyMutation,
    AdminMutation,
)


def config() -> StrawberryConfig:
    return StrawberryConfig(auto_camel_case=False, scalar_map=SCALARS)


def extensions(settings: Settings) -> list:  # type: ignore[type-arg]
    limits = Limits(
        max_depth=settings.graphql_max_depth,
        max_aliases=settings.graphql_max_aliases,
        max_auth_operations=settings.graphql_max_auth_operations,
        credential_fields=CREDENTIAL_MUTATIONS,
        introspection=settings.graphql_introspection,
    )
    # Parsing and validating cost ten times a small query's execution; Validation caches
    # both (the validator's cache lives with this schema).
    validator = Validator(limits, hide_suggestions=settings.production, maxsize=512)
    # Factories: Strawberry builds fresh extension instances per request.
    chosen = [ErrorCodes, lambda: Validation(validator)]
    if not settings.graphql_introspection:
        chosen.append(DisableIntrospection)
    if settings.metrics_enabled:
        chosen.append(OperationMetrics)
    return chosen


def execution_context_class(settings: Settings | None) -> type[QuietExecutionContext] | None:
    # Production hides "Did you mean …?" in validation (the Validator) and here, in the
    # coercion of variables.
    return QuietExecutionContext if settings and settings.production else None


class Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Expected errors are answers, not incidents; ErrorCodes logs the unexpected ones."""


def build_schema(
    settings: Settings | None = None, *, queries: Sequence[type] = (), mutations: Sequence[type] = ()
) -> strawberry.Schema:
    """The main schema; an embedding application adds its own `@strawberry.type` classes of
    root fields through `queries` / `mutations` (see the README)."""
    return Schema(
        query=merge_types("Query", (*QUERIES, *queries)),
        mutation=merge_types("Mutation", (*MUTATIONS, *mutations)),
        types=[User, Session, ApiTokenInfo, Passkey],
        config=config(),
        extensions=extensions(settings) if settings else [],
        execution_context_class=execution_context_class(settings),
    )
