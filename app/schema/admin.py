"""Operator queries and mutations: users, roles, status, invitations, the audit trail."""

from __future__ import annotations

import strawberry
from strawberry import UNSET
from strawberry.permission import BasePermission
from strawberry.types import Info

from app.errors import InvalidPayload
from app.models import AuditEvent as AuditEventModel
from app.models import Role, Status
from app.schema.account import me
from app.schema.connections import AuditEventConnection, UserConnection, connection
from app.schema.context import Context
from app.schema.permissions import HasRole
from app.schema.types import (
    AuditEvent,
    User,
    UserRole,
    UsersFilter,
    UserStatus,
    given,
    raw_id,
)
from app.services.admin import UserFilter
from app.services.pagination import keyset_page

admin_only: list[type[BasePermission]] = [HasRole("admin")]


@strawberry.type
class AdminQuery:
    @strawberry.field(permission_classes=admin_only, description="All users, newest first (admin).")
    async def users(
        self,
        info: Info[Context, None],
        first: int | None = UNSET,
        after: str | None = UNSET,
        filter: UsersFilter | None = UNSET,  # noqa: A002
    ) -> UserConnection | None:
        where = UserFilter()
        if filter:
            role, status = given(filter.role), given(filter.status)
            where = UserFilter(
                email=filter.email or None,
                role=Role(role.value) if isinstance(role, UserRole) else None,
                status=Status(status.value) if isinstance(status, UserStatus) else None,
            )
        page = await info.context.services.admin.users(given(first), after or None, where)
        edges, page_info = connection(page, User.from_model)
        return UserConnection(edges=edges, pageInfo=page_info)

    @strawberry.field(permission_classes=admin_only, description="The audit trail, newest first (admin).")
    async def audit_events(
        self,
        info: Info[Context, None],
        first: int | None = UNSET,
        after: str | None = UNSET,
        user_id: strawberry.ID | None = UNSET,
        action: str | None = UNSET,
    ) -> AuditEventConnection | None:
        query = AuditEventModel.all()
        if user_id:
            query = query.filter(user_id=raw_id(user_id, "User"))
        if action:
            query = query.filter(action=action)
        page = await keyset_page(query, given(first), after or None)
        edges, page_info = connection(page, AuditEvent.from_model)
        return AuditEventConnection(edges=edges, pageInfo=page_info)


@strawberry.type
class AdminMutation:
    @strawberry.mutation(permission_classes=admin_only, description="Suspending signs the user out at once.")
    async def users_update(
        self,
        info: Info[Context, None],
        id: strawberry.ID,  # noqa: A002
        role: UserRole | None = UNSET,
        status: UserStatus | None = UNSET,
    ) -> User | None:
        if status == UserStatus.invited or status == UserStatus.unverified:
            raise InvalidPayload("Status can be set to active or suspended.")
        user = await info.context.services.admin.update(
            me(info),
            raw_id(id, "User"),
            Role(role.value) if isinstance(role, UserRole) else None,
            Status(status.value) if isinstance(status, UserStatus) else None,
            info.context.client,
        )
        return User.from_model(user)

    @strawberry.mutation(permission_classes=admin_only)
    async def users_invite(
        self,
        info: Info[Context, None],
        email: str,
        role: UserRole | None = UNSET,
        invite_url: str | None = UNSET,
    ) -> bool | None:
        chosen = Role(role.value) if isinstance(role, UserRole) else None
        await info.context.services.admin.invite(me(info), email, chosen, invite_url or None, info.context.client)
        return True

    @strawberry.mutation
    async def users_invite_accept(self, info: Info[Context, None], token: str, password: str) -> bool | None:
        await info.context.services.admin.accept_invite(token, password, info.context.client)
        return True
