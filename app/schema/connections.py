"""Relay cursor connections (edges, cursors, pageInfo) over keyset pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import strawberry

from app.schema.types import ApiTokenInfo, AuditEvent, Session, User
from app.services.pagination import Page

T = TypeVar("T")


@strawberry.type(name="PageInfo", description="Relay cursor connection page information.")
class PageInfo:
    hasNextPage: bool  # noqa: N815 - Relay's names
    hasPreviousPage: bool  # noqa: N815
    startCursor: str | None  # noqa: N815
    endCursor: str | None  # noqa: N815

    @classmethod
    def of(cls, page: Page[Any]) -> PageInfo:
        return cls(
            hasNextPage=page.has_next,
            hasPreviousPage=page.has_previous,
            startCursor=page.cursors[0] if page.cursors else None,
            endCursor=page.cursors[-1] if page.cursors else None,
        )


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    pageInfo: PageInfo  # noqa: N815 - Relay's name


def connection(page: Page[Any], convert: Callable[[Any], T]) -> tuple[list[Edge[T]], PageInfo]:
    edges = [Edge(cursor=cursor, node=convert(item)) for item, cursor in zip(page.items, page.cursors, strict=True)]
    return edges, PageInfo.of(page)


@strawberry.type(name="SessionConnection")
class SessionConnection(Connection[Session]):
    pass


@strawberry.type(name="UserConnection")
class UserConnection(Connection[User]):
    pass


@strawberry.type(name="ApiTokenConnection")
class ApiTokenConnection(Connection[ApiTokenInfo]):
    pass


@strawberry.type(name="AuditEventConnection")
class AuditEventConnection(Connection[AuditEvent]):
    pass
