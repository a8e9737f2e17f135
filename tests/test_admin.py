from __future__ import annotations

import asyncio
import re

from app.models import AuditEvent, Role, Status, User
from tests.conftest import LOGIN, Api, Outbox, codes, text_of

USERS = """
query($first: Int, $after: String, $filter: users_filter) {
  users(first: $first, after: $after, filter: $filter) {
    edges { node { id email role status } } pageInfo { hasNextPage endCursor }
  }
}"""
UPDATE = """mutation($id: ID!, $role: user_role, $status: user_status) {
  users_update(id: $id, role: $role, status: $status) { role status }
}"""
INVITE = """mutation($email: String!, $role: user_role, $url: String) {
  users_invite(email: $email, role: $role, invite_url: $url)
}"""
ACCEPT = "mutation($token: String!, $password: String!) { users_invite_accept(token: $token, password: $password) }"


async def _admin(api: Api) -> str:
    await api.signup("admin@example.com")
    await User.filter(email="admin@example.com").update(role=Role.admin)
    return str((await api.login("admin@example.com"))["access_token"])


async def test_admins_list_and_filter_users(api: Api) -> None:
    admin = await _admin(api)
    for name in ("ana", "bo", "cy"):
        await api.signup(f"{name}@example.com")
    await User.filter(email="bo@example.com").update(status=Status.suspended)
    first = (await api.gql(USERS, {"first": 3}, token=admin))["data"]["users"]
    assert len(first["edges"]) == 3 and first["pageInfo"]["hasNextPage"]
    rest = (await api.gql(USERS, {"first": 3, "after": first["pageInfo"]["endCursor"]}, token=admin))["data"]["users"]
    emails = {e["node"]["email"] for e in first["edges"] + rest["edges"]}
    assert emails == {"admin@example.com", "ana@example.com", "bo@example.com", "cy@example.com"}
    suspended = (await api.gql(USERS, {"filter": {"status": "suspended"}}, token=admin))["data"]["users"]["edges"]
    assert [e["node"]["email"] for e in suspended] == ["bo@example.com"]
    by_email = (await api.gql(USERS, {"filter": {"email": "CY@"}}, token=admin))["data"]["users"]["edges"]
    assert [e["node"]["email"] for e in by_email] == ["cy@example.com"]
    admins = (await api.gql(USERS, {"filter": {"role": "admin"}}, token=admin))["data"]["users"]["edges"]
    assert [e["node"]["email"] for e in admins] == ["admin@example.com"]


async def test_non_admins_are_forbidden(api: Api) -> None:
    await api.signup()
    token = (await api.login())["access_token"]
    other = await api.signup("bo@example.com")
    assert codes(await api.gql(USERS, token=token)) == ["FORBIDDEN"]
    assert codes(await api.gql(USERS)) == ["FORBIDDEN"]
    assert codes(await api.gql(UPDATE, {"id": other["id"], "role": "admin"}, token=token)) == ["FORBIDDEN"]
    assert codes(await api.gql(INVITE, {"email": "x@example.com"}, token=token)) == ["FORBIDDEN"]
    assert codes(await api.gql("{ audit_events { edges { node { id } } } }", token=token)) == ["FORBIDDEN"]
    assert (await User.get(email="bo@example.com")).role == Role.user


async def test_suspending_signs_the_user_out_at_once(api: Api) -> None:
    admin = await _admin(api)
    ana = await api.signup()
    ana_tokens = await api.login()
    result = await api.gql(UPDATE, {"id": ana["id"], "status": "suspended"}, token=admin)
    assert result["data"]["users_update"] == {"role": "user", "status": "suspended"}
    assert codes(await api.gql("{ users_me { id } }", token=ana_tokens["access_token"])) == ["INVALID_TOKEN"]
    refresh = await api.gql(
        "mutation($t: String) { auth_refresh(refresh_token: $t) { expires } }", {"t": ana_tokens["refresh_token"]}
    )
    assert codes(refresh) == ["INVALID_TOKEN"]
    assert codes(await api.gql(LOGIN, {"email": "ana@example.com", "password": "correct horse battery"})) == [
        "USER_SUSPENDED"
    ]
    await api.gql(UPDATE, {"id": ana["id"], "status": "active"}, token=admin)
    await api.login()


async def test_role_changes_are_audited(api: Api) -> None:
    admin = await _admin(api)
    ana = await api.signup()
    await api.gql(UPDATE, {"id": ana["id"], "role": "admin"}, token=admin)
    event = await AuditEvent.get(action="role.changed")
    assert event.detail == {"old": "user", "new": "admin"}
    admin_user = await User.get(email="admin@example.com")
    assert event.actor_id == admin_user.id
    events = await api.gql(
        "query($u: ID) { audit_events(user_id: $u) { edges { node { action actor_id detail } } } }",
        {"u": ana["id"]},
        token=admin,
    )
    assert [e["node"]["action"] for e in events["data"]["audit_events"]["edges"]] == ["role.changed"]


async def test_the_last_admin_cannot_be_demoted_or_suspended(api: Api) -> None:
    admin = await _admin(api)
    me = (await api.gql("{ users_me { id } }", token=admin))["data"]["users_me"]["id"]
    assert codes(await api.gql(UPDATE, {"id": me, "role": "user"}, token=admin)) == ["INVALID_PAYLOAD"]
    assert codes(await api.gql(UPDATE, {"id": me, "status": "suspended"}, token=admin)) == ["INVALID_PAYLOAD"]
    assert codes(await api.gql(UPDATE, {"id": me, "status": "invited"}, token=admin)) == ["INVALID_PAYLOAD"]


async def test_invite_and_accept(api: Api, outbox: Outbox) -> None:
    admin = await _admin(api)
    assert (await api.gql(INVITE, {"email": "new@example.com", "role": "guest"}, token=admin)) == {
        "data": {"users_invite": True}
    }
    invited = await User.get(email="new@example.com")
    assert (invited.status, invited.role, invited.password_hash) == (Status.invited, Role.guest, None)
    assert codes(await api.gql(INVITE, {"email": "new@example.com"}, token=admin)) == ["RECORD_NOT_UNIQUE"]
    assert codes(await api.gql(INVITE, {"email": "x@example.com", "url": "https://evil.example/"}, token=admin)) == [
        "INVALID_PAYLOAD"
    ]
    [message] = outbox.to("new@example.com")
    body = text_of(message)
    assert "/auth/pages/accept-invite?token=" in body
    token = re.search(r"token=(\S+)", body).group(1)  # type: ignore[union-attr]
    assert codes(await api.gql(ACCEPT, {"token": token, "password": "short"})) == ["INVALID_PAYLOAD"]
    assert (await api.gql(ACCEPT, {"token": token, "password": "my own passphrase"})) == {
        "data": {"users_invite_accept": True}
    }
    assert codes(await api.gql(ACCEPT, {"token": token, "password": "my own passphrase"})) == ["INVALID_TOKEN"]
    tokens = await api.login("new@example.com", "my own passphrase")
    me = await api.gql("{ users_me { role status email_verified } }", token=tokens["access_token"])
    assert me["data"]["users_me"] == {"role": "guest", "status": "active", "email_verified": True}


async def test_create_admin_command(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "DATABASE_URL": f"sqlite://{tmp_path}/cli.db", "SECRET": "c" * 40}
    env.pop("TEST_DATABASE_URL", None)
    root = Path(__file__).resolve().parents[1]

    def run(*args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "app", *args], cwd=root, env=env, capture_output=True, text=True, check=True
        ).stdout

    run("migrate")
    assert "admin root@example.com created" in run(
        "create-admin", "--email", "root@example.com", "--password", "a long passphrase"
    )
    assert "already exists" in run("create-admin", "--email", "two@example.com", "--password", "a long passphrase")
    assert run("create-admin", "--from-env") == ""  # nothing set: nothing to do


async def test_the_first_admin_can_sign_in_with_email_verification_on(app_with, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # `make run` creates the admin with `create-admin --from-env`: the operator vouches for
    # the address, and no verification mail is sent, so it must be active and verified.
    import os
    import subprocess
    import sys
    from pathlib import Path

    from tests.conftest import DATABASE_URL, TEST_SECRET

    async with app_with(EMAIL_VERIFICATION=True) as api:
        env = {
            **os.environ,
            "DATABASE_URL": DATABASE_URL,
            "SECRET": TEST_SECRET,
            "EMAIL_VERIFICATION": "true",
            "ADMIN_EMAIL": "root@example.com",
            "ADMIN_PASSWORD": "a long passphrase",
        }
        root = Path(__file__).resolve().parents[1]
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "app", "create-admin", "--from-env"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
        )
        assert "admin root@example.com created" in done.stdout, done.stderr
        admin = await User.get(email="root@example.com")
        assert (admin.role, admin.status, admin.email_verified) == (Role.admin, Status.active, True)
        tokens = await api.login("root@example.com", "a long passphrase")
        assert (await api.gql(USERS, token=tokens["access_token"]))["data"]["users"]["edges"]
        # Everyone else still proves their address first.
        await api.signup()
        assert codes(await api.gql(LOGIN, {"email": "ana@example.com", "password": "correct horse battery"})) == [
            "USER_SUSPENDED"
        ]


async def test_two_admins_suspending_each_other_at_once_leave_one_admin(api: Api) -> None:
    # Check-then-act without a lock let both pass on PostgreSQL: no admin was left.
    first = await _admin(api)
    second = str((await api.signup("second@example.com"))["id"])
    await User.filter(email="second@example.com").update(role=Role.admin)
    ids = {
        "admin@example.com": (await api.gql("{ users_me { id } }", token=first))["data"]["users_me"]["id"],
        "second@example.com": second,
    }
    for _ in range(5):
        await User.filter(role=Role.admin).update(status=Status.active)
        first = str((await api.login("admin@example.com"))["access_token"])
        second = str((await api.login("second@example.com"))["access_token"])
        results = await asyncio.gather(
            api.gql(UPDATE, {"id": ids["second@example.com"], "status": "suspended"}, token=first),
            api.gql(UPDATE, {"id": ids["admin@example.com"], "status": "suspended"}, token=second),
        )
        assert sum(1 for r in results if not r.get("errors")) == 1, results
        assert await User.filter(role=Role.admin, status=Status.active).count() == 1
    # Demotions race the same way.
    for _ in range(5):
        await User.filter(role__in=[Role.admin, Role.user], email__in=list(ids)).update(
            role=Role.admin, status=Status.active
        )
        first = str((await api.login("admin@example.com"))["access_token"])
        second = str((await api.login("second@example.com"))["access_token"])
        results = await asyncio.gather(
            api.gql(UPDATE, {"id": ids["second@example.com"], "role": "user"}, token=first),
            api.gql(UPDATE, {"id": ids["admin@example.com"], "role": "user"}, token=second),
        )
        assert sum(1 for r in results if not r.get("errors")) == 1, results
        assert await User.filter(role=Role.admin, status=Status.active).count() == 1
