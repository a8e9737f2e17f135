from __future__ import annotations

from app.models import AuditEvent, User
from tests.conftest import LOGIN, Api

EVENTS = "{ audit_events(first: 50) { edges { node { action email ip user_agent detail user_id } } } }"


async def test_sign_ins_and_failures_are_recorded_without_secrets(api: Api) -> None:
    await api.signup()
    await api.gql(LOGIN, {"email": "ana@example.com", "password": "wrong password"})
    await api.gql(LOGIN, {"email": "ghost@example.com", "password": "wrong password"})
    await api.login()
    events = {e.action: e for e in await AuditEvent.all()}
    assert set(events) >= {"login", "login.failed"}
    failures = await AuditEvent.filter(action="login.failed").order_by("id")
    assert [f.email for f in failures] == ["ana@example.com", "ghost@example.com"]
    assert all(f.detail and f.detail["code"] == "INVALID_CREDENTIALS" for f in failures)
    success = events["login"]
    user = await User.get(email="ana@example.com")
    assert success.user_id == user.id and success.ip == "127.0.0.1"
    for event in await AuditEvent.all():
        assert "wrong password" not in str(event.detail) and "correct horse" not in str(event.detail)


async def test_refresh_token_theft_is_recorded(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(refresh_token_reuse_interval=0) as api:
        await api.signup()
        tokens = await api.login()
        refresh = "mutation($t: String) { auth_refresh(refresh_token: $t) { expires } }"
        await api.gql(refresh, {"t": tokens["refresh_token"]})
        await api.gql(refresh, {"t": tokens["refresh_token"]})
        assert await AuditEvent.filter(action="refresh_token.reused").count() == 1


async def test_admins_read_the_trail_over_graphql(api: Api) -> None:
    await api.signup()
    await User.filter(email="ana@example.com").update(role="admin")
    token = (await api.login())["access_token"]
    await api.gql('mutation { api_tokens_create(name: "ci") { id } }', token=token)
    result = await api.gql(EVENTS, token=token)
    actions = [e["node"]["action"] for e in result["data"]["audit_events"]["edges"]]
    assert actions[:2] == ["api_token.created", "login"]
