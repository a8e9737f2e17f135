"""Pre-account hijacking: someone signs up with another person's email (never proving it),
sets up ways in, and waits. When the owner first proves the address (a provider vouching
for it, or a reset mail), everything the unproven holder set up stops working."""

from __future__ import annotations

from typing import Any

from app.models import Identity, User
from tests.conftest import LOGIN, Api, Outbox, codes
from tests.oidc_provider import OpenIDProvider
from tests.test_budgets import MAGIC_LOGIN, magic_token, with_second_factor
from tests.test_password_reset import RESET, _request, _token
from tests.test_social import APP, browser, op, reason, social_app  # noqa: F401 - op is a fixture

ATTACKER_PASSWORD = "attacker's own passphrase 9"
ME = "{ users_me { email } }"
MINT = 'mutation { api_tokens_create(name: "keep", role: user) { token } }'
REFRESH = "mutation($t: String) { auth_refresh(refresh_token: $t) { access_token } }"


async def _attacker_sets_up(api: Api) -> dict[str, Any]:
    """An account for ana@example.com that ana never made: a password, a session, an API
    token, a phone and a social identity of the attacker's."""
    await api.signup("ana@example.com", ATTACKER_PASSWORD)
    tokens = await api.login("ana@example.com", ATTACKER_PASSWORD)
    minted = await api.gql(MINT, token=tokens["access_token"])
    assert minted["data"]["api_tokens_create"]["token"].startswith("sk_"), minted
    user = await User.get(email="ana@example.com")
    await User.filter(id=user.id).update(phone="+14155550100")
    await Identity.create(user=user, provider="oidc", subject="the-attackers-own")
    return {**tokens, "api_token": minted["data"]["api_tokens_create"]["token"]}


async def _attacker_is_out(api: Api, held: dict[str, Any]) -> None:
    assert codes(await api.gql(LOGIN, {"email": "ana@example.com", "password": ATTACKER_PASSWORD})) == [
        "INVALID_CREDENTIALS"
    ]
    assert codes(await api.gql(REFRESH, {"t": held["refresh_token"]})) == ["INVALID_TOKEN"]
    assert codes(await api.gql(ME, token=held["access_token"])) == ["INVALID_TOKEN"]
    assert codes(await api.gql(ME, token=held["api_token"])) == ["INVALID_TOKEN"]


async def test_a_provider_vouching_for_the_address_hands_the_account_to_its_owner(op: OpenIDProvider) -> None:  # noqa: F811
    async with social_app(op) as api:
        held = await _attacker_sets_up(api)
        api.http.cookies.clear()
        answer, _ = await browser(api, f"/auth/login/oidc?redirect={APP}")
        assert reason(answer) is None and answer.headers["location"] == APP
        await _attacker_is_out(api, held)
        user = await User.get(email="ana@example.com")
        assert user.email_verified and user.password_hash is None and user.phone is None
        assert [i.subject for i in await Identity.filter(user_id=user.id)] == ["op-ana"]


async def test_a_proven_account_keeps_its_password_when_a_provider_links(op: OpenIDProvider) -> None:  # noqa: F811
    async with social_app(op) as api:
        await api.signup("ana@example.com")
        await User.filter(email="ana@example.com").update(email_verified=True)
        answer, _ = await browser(api, f"/auth/login/oidc?redirect={APP}")
        assert reason(answer) is None
        assert (await api.login())["access_token"]


async def test_the_first_reset_of_an_unproven_account_drops_what_its_holder_set_up(api: Api, outbox: Outbox) -> None:
    held = await _attacker_sets_up(api)
    token = _token(await _request(api, outbox))
    assert await api.gql(RESET, {"token": token, "password": "the owner's new passphrase"}) == {
        "data": {"auth_password_reset": True}
    }
    await _attacker_is_out(api, held)
    assert (await api.login("ana@example.com", "the owner's new passphrase"))["access_token"]
    user = await User.get(email="ana@example.com")
    assert user.email_verified and user.phone is None and not await Identity.filter(user_id=user.id).exists()


async def test_the_first_magic_link_of_an_unproven_account_drops_what_its_holder_set_up(
    api: Api, outbox: Outbox
) -> None:
    held = await _attacker_sets_up(api)
    signed_in = await api.gql(MAGIC_LOGIN, {"token": await magic_token(api, outbox)})
    assert signed_in["data"]["auth_magic_link_login"]["access_token"], signed_in
    await _attacker_is_out(api, held)
    user = await User.get(email="ana@example.com")
    assert user.email_verified and user.password_hash is None and user.phone is None


async def test_proving_the_address_keeps_the_second_factor(api: Api, outbox: Outbox) -> None:
    # Dropping it would let whoever reads the mailbox skip MFA.
    await api.signup("ana@example.com")
    await with_second_factor()
    token = _token(await _request(api, outbox))
    await api.gql(RESET, {"token": token, "password": "the owner's new passphrase"})
    assert codes(await api.gql(LOGIN, {"email": "ana@example.com", "password": "the owner's new passphrase"})) == [
        "INVALID_OTP"
    ]
    assert codes(await api.gql(MAGIC_LOGIN, {"token": await magic_token(api, outbox)})) == ["INVALID_OTP"]
