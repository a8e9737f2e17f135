"""What a password reset, a password change and a suspension do to the account's other
credentials: sessions, API tokens and the one-time tokens already mailed."""

from __future__ import annotations

import asyncio
import re

from app.models import ApiToken, OneTimeToken, Session, Status, User
from tests.conftest import LOGIN, Api, Outbox, codes, text_of

PASSWORD = "correct horse battery"
RESET_REQUEST = "mutation($email: String!) { auth_password_request(email: $email) }"
RESET = "mutation($token: String!, $password: String!) { auth_password_reset(token: $token, password: $password) }"
MAGIC_REQUEST = "mutation($email: String!) { auth_magic_link_request(email: $email) }"
MAGIC_LOGIN = "mutation($token: String!) { auth_magic_link_login(token: $token) { access_token refresh_token } }"
CHANGE = "mutation($p: String!, $n: String!) { users_me_password_update(password: $p, new_password: $n) }"
CREATE_TOKEN = "mutation($name: String!) { api_tokens_create(name: $name) { id token } }"
UPDATE = "mutation($id: ID!, $status: user_status) { users_update(id: $id, status: $status) { status } }"
ME = "{ users_me { email } }"


async def _mailed_token(api: Api, outbox: Outbox, query: str) -> str:
    """Ask for a mail and return the token of the link in it."""
    outbox.clear()
    assert "errors" not in await api.gql(query, {"email": "ana@example.com"})
    [message] = outbox.to("ana@example.com")
    body = text_of(message)
    return re.search(r"[?&]token=([A-Za-z0-9_\-]+)", body).group(1)  # type: ignore[union-attr]


async def _api_token(api: Api, access_token: str, name: str = "ci") -> str:
    created = await api.gql(CREATE_TOKEN, {"name": name}, token=access_token)
    assert "errors" not in created, created
    return str(created["data"]["api_tokens_create"]["token"])


async def test_a_reset_revokes_api_tokens_and_voids_every_other_mailed_token(api: Api, outbox: Outbox) -> None:
    await api.signup()
    session = (await api.login())["access_token"]
    secret = await _api_token(api, session)
    r1 = await _mailed_token(api, outbox, RESET_REQUEST)
    magic = await _mailed_token(api, outbox, MAGIC_REQUEST)
    r2 = await _mailed_token(api, outbox, RESET_REQUEST)

    assert await api.gql(RESET, {"token": r2, "password": "a brand new passphrase"}) == {
        "data": {"auth_password_reset": True}
    }
    assert codes(await api.gql(ME, token=secret)) == ["INVALID_TOKEN"]
    assert await ApiToken.filter(revoked_at=None).count() == 0
    assert codes(await api.gql(RESET, {"token": r1, "password": "the attackers passphrase"})) == ["INVALID_TOKEN"]
    assert codes(await api.gql(MAGIC_LOGIN, {"token": magic})) == ["INVALID_TOKEN"]
    assert await OneTimeToken.filter(used_at=None).count() == 0
    assert await Session.filter(revoked_at=None).count() == 0
    await api.login(password="a brand new passphrase")


async def test_a_password_change_voids_mailed_links_and_keeps_api_tokens(api: Api, outbox: Outbox) -> None:
    await api.signup()
    other, current = await api.login(), await api.login()
    secret = await _api_token(api, current["access_token"])
    reset = await _mailed_token(api, outbox, RESET_REQUEST)
    magic = await _mailed_token(api, outbox, MAGIC_REQUEST)

    changed = await api.gql(CHANGE, {"p": PASSWORD, "n": "a new passphrase"}, token=current["access_token"])
    assert changed == {"data": {"users_me_password_update": True}}
    assert codes(await api.gql(RESET, {"token": reset, "password": "the attackers passphrase"})) == ["INVALID_TOKEN"]
    assert codes(await api.gql(MAGIC_LOGIN, {"token": magic})) == ["INVALID_TOKEN"]
    assert codes(await api.gql(ME, token=other["access_token"])) == ["INVALID_TOKEN"]
    # API tokens are separate credentials the owner manages: a change keeps them.
    assert (await api.gql(ME, token=secret))["data"]["users_me"] == {"email": "ana@example.com"}
    assert (await api.gql(ME, token=current["access_token"]))["data"]["users_me"] == {"email": "ana@example.com"}


async def test_a_suspension_revokes_api_tokens_for_good(api: Api) -> None:
    await api.signup("root@example.com")
    await User.filter(email="root@example.com").update(role="admin")
    admin = (await api.login("root@example.com"))["access_token"]
    ana = await api.signup()
    secret = await _api_token(api, (await api.login())["access_token"])

    suspended = await api.gql(UPDATE, {"id": ana["id"], "status": "suspended"}, token=admin)
    assert suspended == {"data": {"users_update": {"status": "suspended"}}}
    assert codes(await api.gql(ME, token=secret)) == ["INVALID_TOKEN"]
    assert await ApiToken.filter(revoked_at=None).count() == 0
    # Lifting the suspension does not bring the token back.
    await api.gql(UPDATE, {"id": ana["id"], "status": "active"}, token=admin)
    assert codes(await api.gql(ME, token=secret)) == ["INVALID_TOKEN"]


async def test_an_invited_user_who_resets_instead_of_accepting_is_active(api: Api, outbox: Outbox) -> None:
    await api.signup("root@example.com")
    await User.filter(email="root@example.com").update(role="admin")
    admin = (await api.login("root@example.com"))["access_token"]
    invite = "mutation($email: String!) { users_invite(email: $email) }"
    assert "errors" not in await api.gql(invite, {"email": "ana@example.com"}, token=admin)
    reset = await _mailed_token(api, outbox, RESET_REQUEST)
    assert "errors" not in await api.gql(RESET, {"token": reset, "password": "a brand new passphrase"})
    # The reset voided the invitation, so it must have done the invitation's work.
    assert (await User.get(email="ana@example.com")).status == Status.active
    await api.login(password="a brand new passphrase")


async def test_two_resets_racing_with_two_tokens_succeed_once(api: Api, outbox: Outbox) -> None:
    await api.signup()
    tokens = [await _mailed_token(api, outbox, RESET_REQUEST) for _ in range(3)]
    passwords = [f"racing passphrase {i}" for i in range(3)]
    results = await asyncio.gather(
        *(api.gql(RESET, {"token": t, "password": p}) for t, p in zip(tokens, passwords, strict=True))
    )
    winners = [p for p, r in zip(passwords, results, strict=True) if not r.get("errors")]
    assert len(winners) == 1, results
    assert all(codes(r) == ["INVALID_TOKEN"] for r in results if r.get("errors"))
    await api.login(password=winners[0])
    for loser in set(passwords) - set(winners):
        assert codes(await api.gql(LOGIN, {"email": "ana@example.com", "password": loser})) == ["INVALID_CREDENTIALS"]


async def test_a_magic_link_racing_a_reset_leaves_no_live_session(api: Api, outbox: Outbox) -> None:
    await api.signup()
    # A proven address (else the link, as a first proof, would void the reset mail itself).
    await User.filter(email="ana@example.com").update(email_verified=True)
    magic = await _mailed_token(api, outbox, MAGIC_REQUEST)
    reset = await _mailed_token(api, outbox, RESET_REQUEST)
    signed_in, was_reset = await asyncio.gather(
        api.gql(MAGIC_LOGIN, {"token": magic}), api.gql(RESET, {"token": reset, "password": "a brand new passphrase"})
    )
    assert was_reset == {"data": {"auth_password_reset": True}}
    # Either the reset voided the link first, or it revoked the session the link opened.
    if signed_in.get("errors"):
        assert codes(signed_in) == ["INVALID_TOKEN"]
    else:
        access = signed_in["data"]["auth_magic_link_login"]["access_token"]
        assert codes(await api.gql(ME, token=access)) == ["INVALID_TOKEN"]
    assert await Session.filter(revoked_at=None).count() == 0
