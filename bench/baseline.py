"""The yardstick: a bare Strawberry `{ hello }` on Starlette, with the same caches we use."""

from __future__ import annotations

import strawberry
from starlette.applications import Starlette
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "world"


schema = strawberry.Schema(Query, extensions=[lambda: ParserCache(maxsize=512), lambda: ValidationCache(maxsize=512)])
app = Starlette(routes=[Route("/graphql", GraphQL(schema))])
