"""The live-session cache (app/services/live_sessions.py) never outlives what it remembers:
each way a session ends, or a user row changes, is seen by the very next request on the
instance that made the change, with the cache warmed first. A guard checks that every write
to users or sessions in app/ tells the cache (app/services/revocations.py)."""

from __future__ import annotations

import ast
import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.models import Session, User
from tests.conftest import Api, codes, update_user

ME = "{ users_me { id email name role } }"
LOGOUT = "mutation($t: String) { auth_logout(refresh_token: $t) }"
REFRESH = "mutation($t: String) { auth_refresh(refresh_token: $t) { access_token refresh_token } }"
REVOKE_ALL = "mutation { auth_sessions_revoke_all(keep_current: true) }"
PASSWORD = "mutation($p: String!, $n: String!) { users_me_password_update(password: $p, new_password: $n) }"
UPDATE_ME = "mutation($n: String) { users_me_update(name: $n) { name } }"
DELETE_ME = 'mutation { users_me_delete(password: "correct horse battery") }'
USERS_UPDATE = "mutation($id: ID!, $role: user_role, $status: user_status) { users_update(id: $id, role: $role, status: $status) { id } }"  # noqa: E501


async def warm(api: Api, token: str) -> dict[str, Any]:
    """Use the token twice: the second answer comes from the cache."""
    await api.gql(ME, token=token)
    answer = await api.gql(ME, token=token)
    assert "errors" not in answer, answer
    me: dict[str, Any] = answer["data"]["users_me"]
    return me


async def test_the_cache_answers_without_a_lookup(api: Api) -> None:
    await api.signup()
    tokens = await api.login()
    await warm(api, tokens["access_token"])
    remembered = api.services.sessions.remembered
    assert remembered is not None and remembered.trusted and len(remembered.entries) == 1


async def test_logout_is_refused_at_once(api: Api) -> None:
    await api.signup()
    tokens = await api.login()
    await warm(api, tokens["access_token"])
    assert (await api.gql(LOGOUT, {"t": tokens["refresh_token"]})) == {"data": {"auth_logout": True}}
    assert codes(await api.gql(ME, token=tokens["access_token"])) == ["INVALID_TOKEN"]


async def test_a_replayed_refresh_token_ends_the_session_at_once(app_with: Any) -> None:
    async with app_with(REFRESH_TOKEN_REUSE_INTERVAL="0") as api:
        await api.signup()
        tokens = await api.login()
        fresh = (await api.gql(REFRESH, {"t": tokens["refresh_token"]}))["data"]["auth_refresh"]
        await warm(api, fresh["access_token"])
        assert codes(await api.gql(REFRESH, {"t": tokens["refresh_token"]})) == ["INVALID_TOKEN"]
        assert codes(await api.gql(ME, token=fresh["access_token"])) == ["INVALID_TOKEN"]


async def test_revoking_all_other_sessions_is_refused_at_once(api: Api) -> None:
    await api.signup()
    mine, other = await api.login(), await api.login()
    await warm(api, other["access_token"])
    assert (await api.gql(REVOKE_ALL, token=mine["access_token"]))["data"]["auth_sessions_revoke_all"] == 1
    assert codes(await api.gql(ME, token=other["access_token"])) == ["INVALID_TOKEN"]
    await warm(api, mine["access_token"])


async def test_a_password_change_ends_the_other_sessions_at_once(api: Api) -> None:
    await api.signup()
    mine, other = await api.login(), await api.login()
    await warm(api, other["access_token"])
    await warm(api, mine["access_token"])
    passwords = {"p": "correct horse battery", "n": "another good passphrase"}
    changed = await api.gql(PASSWORD, passwords, token=mine["access_token"])
    assert changed == {"data": {"users_me_password_update": True}}
    assert codes(await api.gql(ME, token=other["access_token"])) == ["INVALID_TOKEN"]
    await warm(api, mine["access_token"])


async def test_suspension_and_a_new_role_apply_at_once(api: Api) -> None:
    await api.signup()
    await api.signup("root@example.com")
    await update_user("root@example.com", role="admin")
    root = (await api.login("root@example.com"))["access_token"]
    ana = (await api.login())["access_token"]
    me = await warm(api, ana)
    assert me["role"] == "user"
    await api.gql(USERS_UPDATE, {"id": me["id"], "role": "guest"}, token=root)
    assert (await api.gql(ME, token=ana))["data"]["users_me"]["role"] == "guest"
    await warm(api, ana)
    suspended = await api.gql(USERS_UPDATE, {"id": me["id"], "status": "suspended"}, token=root)
    assert "errors" not in suspended, suspended
    assert codes(await api.gql(ME, token=ana)) == ["INVALID_TOKEN"]


async def test_what_users_me_update_writes_is_seen_by_every_session(api: Api) -> None:
    await api.signup()
    mine, other = await api.login(), await api.login()
    await warm(api, other["access_token"])
    await api.gql(UPDATE_ME, {"n": "Ana Lima"}, token=mine["access_token"])
    assert (await api.gql(ME, token=other["access_token"]))["data"]["users_me"]["name"] == "Ana Lima"


async def test_a_deleted_account_is_refused_at_once(api: Api) -> None:
    await api.signup()
    mine, other = await api.login(), await api.login()
    await warm(api, other["access_token"])
    assert (await api.gql(DELETE_ME, token=mine["access_token"])) == {"data": {"users_me_delete": True}}
    assert codes(await api.gql(ME, token=other["access_token"])) == ["INVALID_TOKEN"]


async def test_without_the_cache_a_write_behind_the_apps_back_applies_at_once(app_with: Any) -> None:
    async with app_with(SESSION_CACHE_TTL="0") as api:
        await api.signup()
        tokens = await api.login()
        await warm(api, tokens["access_token"])
        assert api.services.sessions.remembered is None
        await Session.filter(revoked_at=None).update(revoked_at=datetime.now(UTC))
        assert codes(await api.gql(ME, token=tokens["access_token"])) == ["INVALID_TOKEN"]


# --- the guard: every write to users or sessions tells the cache ---------------------------

ROOT = Path(__file__).resolve().parents[1] / "app"
FORGETTING = {"forget_user", "forget_session", "revoke_all"}
# Writes that need not forget, and why.
ALLOWED = {
    # Session rows whose change the cache does not show or checks again: use, re-authentication
    # and rotation (a later expiry; an earlier remembered one only makes the cache look again).
    ("app/models/session.py", "touch"): "last_used_at only",
    ("app/services/sessions.py", "mark_reauthenticated"): "reauthenticated_at is read from the row",
    ("app/services/sessions.py", "_advance"): "rotation: a later expiry, generation and hash",
    ("app/services/housekeeping.py", "prune"): "rows already expired or revoked",
}


def _writes(function: ast.AST) -> list[str]:
    """`User.filter(...)....update(...)` / `.delete()` (and Session's) inside `function`."""
    found = []
    for node in ast.walk(function):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in ("update", "delete"):
            continue
        chain: ast.AST = node.func.value
        while isinstance(chain, ast.Call) and isinstance(chain.func, ast.Attribute):
            chain = chain.func.value
        if isinstance(chain, ast.Name) and chain.id in (User.__name__, Session.__name__):
            found.append(f"{chain.id}.{node.func.attr} at line {node.lineno}")
    return found


def _forgets(function: ast.AST) -> bool:
    return any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in FORGETTING
        for node in ast.walk(function)
    )


def test_every_write_to_users_or_sessions_tells_the_cache() -> None:
    forgetful = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = str(path.relative_to(ROOT.parent))
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            writes = _writes(node)
            if writes and not _forgets(node) and (relative, node.name) not in ALLOWED:
                forgetful.append(f"{relative} {node.name}: {', '.join(writes)}")
    assert not forgetful, "call revocations.forget_user / forget_session after:\n" + "\n".join(forgetful)


async def test_a_token_verified_before_still_expires(app_with: Any) -> None:
    # Verified tokens are remembered by their text (app/auth/tokens.py); `exp` is not.
    async with app_with(ACCESS_TOKEN_TTL="1") as api:
        await api.signup()
        token = (await api.login())["access_token"]
        await warm(api, token)
        await asyncio.sleep(2.1)
        assert codes(await api.gql(ME, token=token)) == ["TOKEN_EXPIRED"]


async def test_32_racing_refreshes_of_a_remembered_session_get_one_successor(api: Api) -> None:
    # The session is remembered (its access token was used), so refreshes take the
    # one-statement path; the race rules of the contract still hold.
    await api.signup()
    first = await api.login()
    await warm(api, first["access_token"])
    results = await asyncio.gather(*(api.gql(REFRESH, {"t": first["refresh_token"]}) for _ in range(32)))
    assert all(r.get("errors") is None for r in results), [r for r in results if r.get("errors")][:1]
    assert len({r["data"]["auth_refresh"]["refresh_token"] for r in results}) == 1
    session = await Session.get(revoked_at=None)
    assert session.generation == 1
    # Chains go on from the one successor, remembered or not.
    token = results[0]["data"]["auth_refresh"]["refresh_token"]
    for generation in (2, 3):
        token = (await api.gql(REFRESH, {"t": token}))["data"]["auth_refresh"]["refresh_token"]
        assert (await Session.get(id=session.id)).generation == generation


async def test_32_chains_at_once_lose_no_successor(api: Api) -> None:
    await api.signup()
    chains = [(await api.login())["refresh_token"] for _ in range(32)]

    async def chain(token: str) -> str:
        for _ in range(3):
            answer = await api.gql(REFRESH, {"t": token})
            assert answer.get("errors") is None, answer
            token = answer["data"]["auth_refresh"]["refresh_token"]
        return token

    last = await asyncio.gather(*(chain(t) for t in chains))
    assert len(set(last)) == 32
    assert [s.generation for s in await Session.filter(revoked_at=None)] == [3] * 32
    # Each chain's last token is its current one.
    for token in last[:2]:
        assert (await api.gql(REFRESH, {"t": token})).get("errors") is None


async def test_a_sign_in_updates_remembered_sessions_in_place(api: Api) -> None:
    # Each sign-in saves last_login_at; the account's remembered sessions are updated, not
    # dropped (a sign-in storm would otherwise send every signed-in request to the database).
    await api.signup()
    tokens = await api.login()
    await warm(api, tokens["access_token"])
    remembered = api.services.sessions.remembered
    [entry] = remembered.entries.values()
    before = entry.user.last_login_at
    await api.login()
    assert list(remembered.entries.values()) == [entry]
    assert entry.user.last_login_at is not None and entry.user.last_login_at > before
    seen = await api.gql("{ users_me { last_login_at } }", token=tokens["access_token"])
    assert seen["data"]["users_me"]["last_login_at"] == entry.user.last_login_at.isoformat()
