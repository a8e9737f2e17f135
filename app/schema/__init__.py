"""The main schema (`/graphql`): Directus's auth API, Graphcool's Simple API, Relay nodes."""

from __future__ import annotations

import strawberry
from strawberry.extensions import AddValidationRules, DisableIntrospection, ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from app.config import Settings
from app.schema.auth import AuthMutation
from app.schema.extensions import ErrorCodes, limit_rules
from app.schema.types import SCALARS, User
from app.schema.users import UserMutation, UserQuery

Query = merge_types("Query", (UserQuery,))
Mutation = merge_types("Mutation", (AuthMutation, UserMutation))


def config() -> StrawberryConfig:
    return StrawberryConfig(auto_camel_case=False, scalar_map=SCALARS)


def extensions(settings: Settings) -> list:  # type: ignore[type-arg]
    rules = limit_rules(settings.graphql_max_depth, settings.graphql_max_aliases, settings.graphql_max_auth_operations)
    chosen = [
        ErrorCodes,
        AddValidationRules(rules),
        # Parsing and validating cost ten times a small query's execution; cache both.
        ParserCache(maxsize=512),
        ValidationCache(maxsize=512),
    ]
    if not settings.graphql_introspection:
        chosen.append(DisableIntrospection())
    return chosen


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=[User],
        config=config(),
        extensions=extensions(settings) if settings else [],
    )
