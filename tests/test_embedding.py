"""An embedding application adds its own types and protects them with our permissions.
This is the README's example, run for real."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from app.models import Role
from app.schema.permissions import HasRole, IsAuthenticated, IsOwnerOrAdmin
from tests.conftest import Api, codes, make_settings, running_app, update_user


@strawberry.type
class Note:
    owner_id: strawberry.Private[str]
    title: str
    body: str = strawberry.field(permission_classes=[IsOwnerOrAdmin])


@strawberry.type
class NotesQuery:
    @strawberry.field(permission_classes=[IsAuthenticated])
    def my_note(self, info: Info) -> Note:
        viewer = info.context.viewer
        return Note(owner_id=viewer.user_id, title="mine", body=f"for {viewer.user.email}")

    @strawberry.field(permission_classes=[HasRole("admin")])
    def notes_stats(self) -> int:
        return 42


async def test_added_fields_are_protected_by_the_permission_classes() -> None:
    async with running_app(make_settings(), queries=[NotesQuery]) as api:
        await api.signup()
        token = (await api.login())["access_token"]
        assert codes(await api.gql("{ my_note { title } }")) == ["FORBIDDEN"]
        mine = await api.gql("{ my_note { title body } }", token=token)
        assert mine == {"data": {"my_note": {"title": "mine", "body": "for ana@example.com"}}}
        assert codes(await api.gql("{ notes_stats }", token=token)) == ["FORBIDDEN"]
        assert codes(await api.gql("{ notes_stats }", token="expired.or.bad")) == ["INVALID_TOKEN"]
        await update_user("ana@example.com", role=Role.admin)
        assert (await api.gql("{ notes_stats }", token=token)) == {"data": {"notes_stats": 42}}


async def test_the_built_in_schema_is_unchanged_without_extras(api: Api) -> None:
    assert codes(await api.gql("{ my_note { title } }")) == ["GRAPHQL_VALIDATION"]
