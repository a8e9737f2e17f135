"""Operator queries and mutations: users, roles, status, invitations, the audit trail."""

from __future__ import annotations

import strawberry
from strawberry import UNSET
from strawberry.permission import BasePermission
from strawberry.types import Info

from app.errors import InvalidPayload
from app.models import Role, Status
from app.schema.account import me
from app.schema.connections import AuditEventConnection, UserConnection, connection
from app.schema.context import Context
from app.schema.ids import raw_id
from app.schema.permissions import HasRole
from app.schema.types import AuditEvent, User, UsersFilter, given
from app.services.admin import UserFilter

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
            where = UserFilter(email=filter.email or None, role=given(filter.role), status=given(filter.status))
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
        user = raw_id(user_id, "User") if user_id else None
        page = await info.context.services.admin.audit_events(given(first), after or None, user, action or None)
        edges, page_info = connection(page, AuditEvent.from_model)
        return AuditEventConnection(edges=edges, pageInfo=page_info)


@strawberry.type
class AdminMutation:
    @strawberry.mutation(permission_classes=admin_only, description="Suspending signs the user out at once.")
    async def users_update(
        self,
        info: Info[Context, None],
        id: strawberry.ID,  # noqa: A002
        role: Role | None = UNSET,
        status: Status | None = UNSET,
    ) -> User | None:
        if status == Status.invited or status == Status.unverified:
            raise InvalidPayload("Status can be set to active or suspended.")
        user = await info.context.services.admin.update(
            me(info),
            raw_id(id, "User"),
            given(role),
            given(status),
            info.context.client,
        )
        return User.from_model(user)

    @strawberry.mutation(permission_classes=admin_only)
    async def users_invite(
        self,
        info: Info[Context, None],
        email: str,
        role: Role | None = UNSET,
        invite_url: str | None = UNSET,
    ) -> bool | None:
        await info.context.services.admin.invite(me(info), email, given(role), invite_url or None, info.context.client)
        return True

    @strawberry.mutation
    async def users_invite_accept(self, info: Info[Context, None], token: str, password: str) -> bool | None:
        await info.context.services.admin.accept_invite(token, password, info.context.client)
        return True
