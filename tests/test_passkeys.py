"""Passkeys (WebAuthn): registration and sign-in against an authenticator written in Python
(tests/webauthn_authenticator.py), over HTTP, with PUBLIC_URL=http://localhost:8000 as in
development (browsers refuse an IP address as RP id)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.models import AuditEvent, Identity, Passkey, Session, Status, User, WebAuthnChallenge
from tests.conftest import LOGIN, Api, Outbox, codes, make_settings, running_app
from tests.test_budgets import MAGIC_LOGIN, magic_token
from tests.test_mfa import code_at, enabled
from tests.webauthn_authenticator import Authenticator, b64url, from_b64url

PUBLIC_URL = "http://localhost:8000"
PASSWORD = "correct horse battery"

REGISTER_OPTIONS = """mutation($password: String, $otp: String) {
  users_me_passkey_register_options(password: $password, otp: $otp)
}"""
REGISTER = """mutation($credential: JSON!, $name: String) {
  users_me_passkey_register(credential: $credential, name: $name) { id name transports created_at last_used_at }
}"""
LIST = "{ users_me_passkeys { id name transports last_used_at } }"
DELETE = "mutation($id: ID!) { users_me_passkey_delete(id: $id) }"
LOGIN_OPTIONS = "mutation($email: String) { auth_passkey_login_options(email: $email) }"
PASSKEY_LOGIN = """mutation($credential: JSON!, $mode: auth_mode) {
  auth_passkey_login(credential: $credential, mode: $mode) { access_token expires refresh_token }
}"""
ME = "{ users_me { email } }"
UNLINK = "mutation($p: String!) { users_me_identity_unlink(provider: $p) }"


@pytest.fixture
async def api(smtp_server: Any, tmp_path: Any) -> AsyncIterator[Api]:
    settings = make_settings(
        PUBLIC_URL=PUBLIC_URL,
        email_transport="smtp",
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
    )
    async with running_app(settings) as api:
        yield api


async def signed_in(api: Api, email: str = "ana@example.com") -> str:
    await api.signup(email)
    return str((await api.login(email))["access_token"])


async def register(api: Api, token: str, device: Authenticator, name: str | None = "Laptop") -> dict[str, Any]:
    options = await api.gql(REGISTER_OPTIONS, token=token)
    assert options.get("errors") is None, options
    credential = device.create(options["data"]["users_me_passkey_register_options"])
    result = await api.gql(REGISTER, {"credential": credential, "name": name}, token=token)
    assert result.get("errors") is None, result
    return dict(result["data"]["users_me_passkey_register"])


async def login_options(api: Api, email: str | None = None) -> dict[str, Any]:
    result = await api.gql(LOGIN_OPTIONS, {"email": email})
    assert result.get("errors") is None, result
    return dict(result["data"]["auth_passkey_login_options"])


async def passkey_login(api: Api, credential: dict[str, Any], mode: str = "json") -> dict[str, Any]:
    return await api.gql(PASSKEY_LOGIN, {"credential": credential, "mode": mode})


# --- registration and sign-in ---------------------------------------------------------------


async def test_options_name_public_url_as_relying_party(api: Api) -> None:
    token = await signed_in(api)
    options = (await api.gql(REGISTER_OPTIONS, token=token))["data"]["users_me_passkey_register_options"]
    user = await User.get(email="ana@example.com")
    assert options["rp"]["id"] == "localhost"
    assert from_b64url(options["user"]["id"]) == user.id.bytes  # an opaque handle, not the email
    assert options["user"]["name"] == "ana@example.com"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["timeout"] == 300_000 and len(from_b64url(options["challenge"])) >= 16
    login = await login_options(api)
    assert login["rpId"] == "localhost" and login["allowCredentials"] == []
    assert login["userVerification"] == "required"


async def test_register_then_sign_in_with_the_passkey(api: Api) -> None:
    device = Authenticator()
    token = await signed_in(api)
    created = await register(api, token, device, name="  Work laptop ")
    assert created["name"] == "Work laptop" and created["transports"] == ["hybrid", "internal"]
    assert created["last_used_at"] is None
    assert (await api.gql(LIST, token=token))["data"]["users_me_passkeys"] == [
        {"id": created["id"], "name": "Work laptop", "transports": ["hybrid", "internal"], "last_used_at": None}
    ]

    options = await login_options(api, "Ana@Example.com")
    assert [c["id"] for c in options["allowCredentials"]] == [b64url(device.credentials[0].id)]
    result = await passkey_login(api, device.get(options))
    tokens = result["data"]["auth_passkey_login"]
    assert tokens["access_token"] and tokens["refresh_token"] and tokens["expires"] == "900000"
    assert (await api.gql(ME, token=tokens["access_token"]))["data"]["users_me"] == {"email": "ana@example.com"}
    stored = await Passkey.get(user__email="ana@example.com")
    assert stored.sign_count == device.credentials[0].sign_count == 2 and stored.last_used_at is not None
    event = await AuditEvent.filter(action="login").order_by("-created_at").first()
    assert event is not None and event.detail == {"provider": "passkey"}


async def test_cookie_mode_puts_the_refresh_token_in_the_cookie(api: Api) -> None:
    device = Authenticator()
    await register(api, await signed_in(api), device)
    api.http.cookies.clear()
    response = await api.raw_gql(PASSKEY_LOGIN, {"credential": device.get(await login_options(api)), "mode": "cookie"})
    tokens = response.json()["data"]["auth_passkey_login"]
    assert tokens["access_token"] and tokens["refresh_token"] is None
    assert api.http.cookies.get("refresh_token")
    refreshed = await api.gql("mutation { auth_refresh(mode: cookie) { access_token } }")
    assert refreshed["data"]["auth_refresh"]["access_token"], refreshed


async def test_session_mode_signs_the_browser_in(api: Api) -> None:
    device = Authenticator()
    await register(api, await signed_in(api), device)
    api.http.cookies.clear()
    result = await passkey_login(api, device.get(await login_options(api)), mode="session")
    assert result["data"]["auth_passkey_login"] == {"access_token": None, "expires": "900000", "refresh_token": None}
    assert (await api.gql(ME))["data"]["users_me"] == {"email": "ana@example.com"}


async def test_discoverable_credential_signs_in_without_an_email(api: Api) -> None:
    device = Authenticator()
    await register(api, await signed_in(api), device)
    options = await login_options(api)
    assert options["allowCredentials"] == []
    result = await passkey_login(api, device.get(options))
    assert result["data"]["auth_passkey_login"]["access_token"], result


async def test_a_passkey_sign_in_satisfies_mfa(api: Api) -> None:
    token, secret = await enabled(api)
    device = Authenticator()
    await register(api, token, device)
    without_code = await api.gql(LOGIN, {"email": "ana@example.com", "password": PASSWORD})
    assert codes(without_code) == ["INVALID_OTP"]
    result = await passkey_login(api, device.get(await login_options(api, "ana@example.com")))
    assert result["data"]["auth_passkey_login"]["access_token"], result
    # The factor stays on for password sign-ins.
    assert (await User.get(email="ana@example.com")).tfa_enabled
    with_code = await api.gql(LOGIN, {"email": "ana@example.com", "password": PASSWORD, "otp": code_at(secret, 0)})
    assert with_code["data"]["auth_login"]["access_token"], with_code


async def test_an_assertion_without_user_verification_is_refused(api: Api) -> None:
    device = Authenticator()
    await register(api, await signed_in(api), device)
    device.user_verified = False  # a key touched but not unlocked: one factor only
    assert codes(await passkey_login(api, device.get(await login_options(api)))) == ["INVALID_CREDENTIALS"]


# --- what is refused ------------------------------------------------------------------------


@pytest.mark.parametrize("place", ["origin", "rp_id"])
async def test_a_response_made_for_another_site_is_refused(api: Api, place: str) -> None:
    elsewhere = {"origin": "https://localhost.evil.test"} if place == "origin" else {"rp_id": "evil.test"}
    device = Authenticator()
    token = await signed_in(api)
    options = (await api.gql(REGISTER_OPTIONS, token=token))["data"]["users_me_passkey_register_options"]
    phished = await api.gql(REGISTER, {"credential": device.create(options, **elsewhere)}, token=token)
    assert codes(phished) == ["INVALID_PAYLOAD"]
    assert not await Passkey.exists()

    device = Authenticator()
    await register(api, token, device)
    login = await login_options(api)
    credential = device.credentials[0]
    if place == "rp_id":
        credential.rp_id = "evil.test"
    assert codes(await passkey_login(api, device.get(login, credential=credential, **elsewhere))) == [
        "INVALID_CREDENTIALS"
    ]


async def test_a_challenge_is_spent_by_its_first_use(api: Api) -> None:
    device = Authenticator()
    await register(api, await signed_in(api), device)
    options = await login_options(api)
    assertion = device.get(options)
    assert (await passkey_login(api, assertion))["data"]["auth_passkey_login"]["access_token"]
    assert codes(await passkey_login(api, assertion)) == ["INVALID_TOKEN"]  # replayed as sent
    assert codes(await passkey_login(api, device.get(options))) == ["INVALID_TOKEN"]  # freshly signed
    assert await Session.all().count() == 2  # the password sign-in and the first passkey one


async def test_a_failed_attempt_spends_the_challenge_too(api: Api) -> None:
    device = Authenticator()
    await register(api, await signed_in(api), device)
    options = await login_options(api)
    bad = device.get(options)
    bad["response"]["signature"] = b64url(b"\x30\x06\x02\x01\x01\x02\x01\x01")
    assert codes(await passkey_login(api, bad)) == ["INVALID_CREDENTIALS"]
    assert codes(await passkey_login(api, device.get(options))) == ["INVALID_TOKEN"]


async def test_an_expired_challenge_is_refused(api: Api) -> None:
    device = Authenticator()
    token = await signed_in(api)
    await register(api, token, device)
    options = await login_options(api)
    await WebAuthnChallenge.all().update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert codes(await passkey_login(api, device.get(options))) == ["TOKEN_EXPIRED"]

    registration = (await api.gql(REGISTER_OPTIONS, token=token))["data"]["users_me_passkey_register_options"]
    await WebAuthnChallenge.all().update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    second = Authenticator()
    assert codes(await api.gql(REGISTER, {"credential": second.create(registration)}, token=token)) == ["TOKEN_EXPIRED"]
    assert await Passkey.all().count() == 1


async def test_challenges_expire_after_five_minutes(api: Api) -> None:
    await login_options(api)
    challenge = await WebAuthnChallenge.get()
    assert timedelta(minutes=4, seconds=59) < challenge.expires_at - challenge.created_at <= timedelta(minutes=5)


async def test_a_counter_that_goes_back_is_refused(api: Api) -> None:
    device = Authenticator()
    await register(api, await signed_in(api), device)
    assert (await passkey_login(api, device.get(await login_options(api))))["data"]["auth_passkey_login"]
    credential = device.credentials[0]
    credential.sign_count -= 1  # a clone of the authenticator, one use behind: sends the same count
    assert codes(await passkey_login(api, device.get(await login_options(api)))) == ["INVALID_CREDENTIALS"]
    credential.sign_count = 0  # and one far behind
    assert codes(await passkey_login(api, device.get(await login_options(api)))) == ["INVALID_CREDENTIALS"]
    assert (await Passkey.get()).sign_count == 2


async def test_an_authenticator_without_a_counter_may_always_send_zero(api: Api) -> None:
    device = Authenticator(counts=False)
    await register(api, await signed_in(api), device)
    for _ in range(2):
        result = await passkey_login(api, device.get(await login_options(api)))
        assert result["data"]["auth_passkey_login"]["access_token"], result
    assert (await Passkey.get()).sign_count == 0


async def test_options_for_one_account_cannot_be_answered_with_another_accounts_passkey(api: Api) -> None:
    ana, bob = Authenticator(), Authenticator()
    await register(api, await signed_in(api, "ana@example.com"), ana)
    await register(api, await signed_in(api, "bob@example.com"), bob)
    for_bob = await login_options(api, "bob@example.com")
    assert codes(await passkey_login(api, ana.get(for_bob, credential=ana.credentials[0]))) == ["INVALID_CREDENTIALS"]
    # A credential whose user handle names another account is refused as well.
    mixed = ana.get(await login_options(api))
    mixed["response"]["userHandle"] = b64url(bob.credentials[0].user_handle)
    assert codes(await passkey_login(api, mixed)) == ["INVALID_CREDENTIALS"]


async def test_a_registration_challenge_serves_only_the_account_that_asked(api: Api) -> None:
    ana_token = await signed_in(api, "ana@example.com")
    bob_token = await signed_in(api, "bob@example.com")
    options = (await api.gql(REGISTER_OPTIONS, token=ana_token))["data"]["users_me_passkey_register_options"]
    credential = Authenticator().create(options)
    assert codes(await api.gql(REGISTER, {"credential": credential}, token=bob_token)) == ["INVALID_TOKEN"]
    assert not await Passkey.exists()


async def test_an_unknown_credential_is_invalid_credentials(api: Api) -> None:
    stranger = Authenticator()
    stranger.create(
        {"rp": {"id": "localhost"}, "user": {"id": b64url(b"x")}, "pubKeyCredParams": [{"alg": -7}]}
        | {"challenge": b64url(b"c" * 32)}
    )
    assert codes(await passkey_login(api, stranger.get(await login_options(api)))) == ["INVALID_CREDENTIALS"]


@pytest.mark.parametrize(
    "credential",
    [
        "not json",
        {"id": "x"},
        {"id": "AA", "rawId": "AA", "type": "public-key", "response": {"clientDataJSON": "%%%"}},
        {
            "id": "AA",
            "rawId": "AA",
            "type": "public-key",
            "response": {"clientDataJSON": b64url(b"[]"), "authenticatorData": "", "signature": ""},
        },
        [1, 2, 3],
        42,
    ],
)
async def test_a_malformed_credential_is_invalid_payload(api: Api, credential: Any) -> None:
    token = await signed_in(api)
    assert codes(await passkey_login(api, credential)) == ["INVALID_PAYLOAD"]
    assert codes(await api.gql(REGISTER, {"credential": credential}, token=token)) == ["INVALID_PAYLOAD"]


async def test_a_suspended_account_cannot_sign_in_with_its_passkey(api: Api) -> None:
    device = Authenticator()
    await register(api, await signed_in(api), device)
    await User.filter(email="ana@example.com").update(status=Status.suspended)
    assert codes(await passkey_login(api, device.get(await login_options(api)))) == ["USER_SUSPENDED"]
    assert await Session.all().count() == 1


async def test_failed_assertions_draw_on_the_accounts_budget(api: Api) -> None:
    device = Authenticator()
    await register(api, await signed_in(api), device)
    api.http.cookies.clear()  # no device cookie: the budget everyone shares
    for _ in range(10):
        bad = device.get(await login_options(api))
        bad["response"]["signature"] = b64url(b"\x30\x06\x02\x01\x01\x02\x01\x01")
        assert codes(await passkey_login(api, bad)) == ["INVALID_CREDENTIALS"]
    assert codes(await passkey_login(api, device.get(await login_options(api)))) == ["REQUESTS_EXCEEDED"]


# --- managing passkeys -------------------------------------------------------------------


async def test_an_api_token_cannot_manage_passkeys(api: Api) -> None:
    token = await signed_in(api)
    device = Authenticator()
    await register(api, token, device)
    minted = await api.gql('mutation { api_tokens_create(name: "ci") { token } }', token=token)
    key = {"X-API-Key": minted["data"]["api_tokens_create"]["token"]}
    assert codes(await api.gql(REGISTER_OPTIONS, headers=key)) == ["FORBIDDEN"]
    options = (await api.gql(REGISTER_OPTIONS, token=token))["data"]["users_me_passkey_register_options"]
    credential = Authenticator().create(options)
    assert codes(await api.gql(REGISTER, {"credential": credential}, headers=key)) == ["FORBIDDEN"]
    assert codes(await api.gql(LIST, headers=key)) == ["FORBIDDEN"]
    passkey_id = (await api.gql(LIST, token=token))["data"]["users_me_passkeys"][0]["id"]
    assert codes(await api.gql(DELETE, {"id": passkey_id}, headers=key)) == ["FORBIDDEN"]
    assert await Passkey.all().count() == 1
    assert codes(await api.gql(LIST)) == ["FORBIDDEN"]  # and nobody signed out


async def test_registering_needs_a_recent_sign_in_or_the_password(api: Api) -> None:
    token = await signed_in(api)
    await Session.all().update(created_at=datetime.now(UTC) - timedelta(minutes=11))
    assert codes(await api.gql(REGISTER_OPTIONS, token=token)) == ["FORBIDDEN"]
    assert codes(await api.gql(REGISTER_OPTIONS, {"password": "wrong password"}, token=token)) == [
        "INVALID_CREDENTIALS"
    ]
    confirmed = await api.gql(REGISTER_OPTIONS, {"password": PASSWORD}, token=token)
    assert confirmed["data"]["users_me_passkey_register_options"]["challenge"], confirmed


async def test_duplicate_registration_is_record_not_unique(api: Api) -> None:
    token = await signed_in(api)
    device = Authenticator()
    await register(api, token, device)
    options = (await api.gql(REGISTER_OPTIONS, token=token))["data"]["users_me_passkey_register_options"]
    assert [c["id"] for c in options["excludeCredentials"]] == [b64url(device.credentials[0].id)]
    # A client that ignores excludeCredentials and sends the same credential again.
    device.credentials.clear()
    again = device.create(options)
    existing = await Passkey.get()
    await Passkey.filter(id=existing.id).update(credential_id=again["id"])
    assert codes(await api.gql(REGISTER, {"credential": again}, token=token)) == ["RECORD_NOT_UNIQUE"]


async def test_delete_removes_only_your_own_passkey(api: Api) -> None:
    ana_token = await signed_in(api, "ana@example.com")
    bob_token = await signed_in(api, "bob@example.com")
    ana, bob = Authenticator(), Authenticator()
    ana_key = await register(api, ana_token, ana)
    await register(api, bob_token, bob)
    assert codes(await api.gql(DELETE, {"id": ana_key["id"]}, token=bob_token)) == ["INVALID_PAYLOAD"]
    assert await Passkey.all().count() == 2
    assert await api.gql(DELETE, {"id": ana_key["id"]}, token=ana_token) == {"data": {"users_me_passkey_delete": True}}
    assert (await api.gql(LIST, token=ana_token))["data"]["users_me_passkeys"] == []
    assert codes(await passkey_login(api, ana.get(await login_options(api)))) == ["INVALID_CREDENTIALS"]


async def test_the_last_passkey_of_an_account_without_a_password_stays(api: Api) -> None:
    token = await signed_in(api)
    first = await register(api, token, Authenticator(), name="one")
    second = await register(api, token, Authenticator(), name="two")
    await User.filter(email="ana@example.com").update(password_hash=None)
    assert await api.gql(DELETE, {"id": first["id"]}, token=token) == {"data": {"users_me_passkey_delete": True}}
    assert codes(await api.gql(DELETE, {"id": second["id"]}, token=token)) == ["INVALID_PAYLOAD"]
    assert await Passkey.all().count() == 1


async def test_a_passkey_counts_as_a_way_in_when_unlinking_an_identity(api: Api) -> None:
    token = await signed_in(api)
    user = await User.get(email="ana@example.com")
    await Identity.create(user=user, provider="oidc", subject="ana-at-op")
    await User.filter(id=user.id).update(password_hash=None)
    assert codes(await api.gql(UNLINK, {"p": "oidc"}, token=token)) == ["INVALID_PAYLOAD"]  # the only way in
    key = await register(api, token, Authenticator())
    assert await api.gql(UNLINK, {"p": "oidc"}, token=token) == {"data": {"users_me_identity_unlink": True}}
    # Now the passkey is the last way in.
    assert codes(await api.gql(DELETE, {"id": key["id"]}, token=token)) == ["INVALID_PAYLOAD"]


async def test_proving_the_address_drops_the_unproven_holders_passkeys(api: Api, outbox: Outbox) -> None:
    attacker = Authenticator()
    await register(api, await signed_in(api, "ana@example.com"), attacker)
    signed_in_by_mail = await api.gql(MAGIC_LOGIN, {"token": await magic_token(api, outbox)})
    assert signed_in_by_mail["data"]["auth_magic_link_login"]["access_token"], signed_in_by_mail
    assert not await Passkey.exists()
    assert codes(await passkey_login(api, attacker.get(await login_options(api)))) == ["INVALID_CREDENTIALS"]


# --- what options tell about an email ------------------------------------------------------


def _shape(options: dict[str, Any]) -> Any:
    """Keys and types; for listed credentials, whether the id has a length real ones have
    and whether the transports are ones browsers know."""
    known = {"usb", "nfc", "ble", "internal", "hybrid", "smart-card", "cable"}
    return {
        **{k: type(v).__name__ for k, v in options.items() if k != "allowCredentials"},
        "allowCredentials": [
            {
                "keys": sorted(c),
                "type": c["type"],
                "id": len(from_b64url(c["id"])) in (16, 32, 48, 64),
                "transports": bool(c["transports"]) and set(c["transports"]) <= known,
            }
            for c in options["allowCredentials"]
        ],
    }


async def test_options_for_an_unknown_email_look_like_those_of_an_account(api: Api) -> None:
    await register(api, await signed_in(api, "ana@example.com"), Authenticator())
    await signed_in(api, "bob@example.com")  # an account without passkeys
    known = await login_options(api, "ana@example.com")
    unknown = await login_options(api, "nobody@example.com")
    without_passkeys = await login_options(api, "bob@example.com")
    assert _shape(known)["allowCredentials"][0]["id"] is True  # a real id has a length decoys use too
    assert _shape(unknown) == _shape(without_passkeys) == _shape(known)
    assert len(unknown["allowCredentials"]) == len(known["allowCredentials"]) == 1
    assert unknown["allowCredentials"][0]["type"] == "public-key" and unknown["allowCredentials"][0]["transports"]
    # Asking again gives the same list (a changing one would give the decoy away), and a
    # fresh challenge.
    again = await login_options(api, "NOBODY@example.com")
    assert again["allowCredentials"] == unknown["allowCredentials"] and again["challenge"] != unknown["challenge"]
    assert await WebAuthnChallenge.filter(user_id=None).count() == 3


async def test_a_decoy_challenge_is_judged_like_a_discoverable_one(api: Api) -> None:
    device = Authenticator()
    await register(api, await signed_in(api), device)
    decoy = await login_options(api, "nobody@example.com")
    with pytest.raises(RuntimeError, match="NotAllowedError"):
        device.get(decoy)
    # A response to a decoy challenge is judged like a discoverable sign-in: only a real
    # passkey gets in, as it could with options for no email at all.
    result = await passkey_login(api, device.get(decoy, credential=device.credentials[0]))
    assert result["data"]["auth_passkey_login"]["access_token"], result


async def test_a_malformed_email_is_invalid_payload(api: Api) -> None:
    assert codes(await api.gql(LOGIN_OPTIONS, {"email": "not an email"})) == ["INVALID_PAYLOAD"]


async def test_relay_endpoint_has_the_same_operations(api: Api) -> None:
    device = Authenticator()
    await register(api, await signed_in(api), device)
    options = await api.gql(LOGIN_OPTIONS, {"email": None}, path="/graphql/relay")
    credential = device.get(options["data"]["auth_passkey_login_options"])
    result = await api.gql(PASSKEY_LOGIN, {"credential": credential}, path="/graphql/relay")
    assert result["data"]["auth_passkey_login"]["access_token"], result


def test_the_authenticator_encodes_base64url_without_padding() -> None:
    assert b64url(b"\xff\xfe") == "__4" and from_b64url("__4") == b"\xff\xfe"
    assert base64.urlsafe_b64decode("__4=") == b"\xff\xfe"


async def test_node_fetches_a_passkey_again_for_its_owner_only(api: Api) -> None:
    token = await signed_in(api)
    created = await register(api, token, Authenticator())
    node = "query($id: ID!) { node(id: $id) { id ... on Passkey { name } } }"
    assert (await api.gql(node, {"id": created["id"]}, token=token))["data"]["node"] == {
        "id": created["id"],
        "name": "Laptop",
    }
    other = await signed_in(api, "bo@example.com")
    assert (await api.gql(node, {"id": created["id"]}, token=other))["data"]["node"] is None
