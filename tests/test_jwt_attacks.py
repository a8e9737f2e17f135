"""Forged and damaged access tokens: each one runs as EVERYONE with one token error."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from app.auth.secrets import derive_key
from tests.conftest import TEST_SECRET, Api, codes

ME = "{ users_me { email } }"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def _signed_in(api: Api) -> str:
    await api.signup()
    return str((await api.login())["access_token"])


async def _rejected(api: Api, token: str, code: str = "INVALID_TOKEN") -> None:
    result = await api.gql(ME, token=token)
    assert result["data"] == {"users_me": None}
    assert codes(result) == [code]


async def test_a_valid_token_is_accepted(api: Api) -> None:
    token = await _signed_in(api)
    assert (await api.gql(ME, token=token))["data"]["users_me"]["email"] == "ana@example.com"


async def test_alg_none_is_rejected(api: Api) -> None:
    token = await _signed_in(api)
    forged = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{token.split('.')[1]}."
    await _rejected(api, forged)


async def test_a_token_signed_with_another_key_is_rejected(api: Api) -> None:
    token = await _signed_in(api)
    claims = _claims(token)
    await _rejected(api, jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(b"k" * 32)))
    # Nor a key derived from SECRET (what access tokens were once signed with): only the
    # secret itself, which a host application shares, signs access tokens.
    derived = OctKey.import_key(derive_key(TEST_SECRET, "access-token"))
    await _rejected(api, jwt.encode({"alg": "HS256"}, claims, derived))


async def test_tampered_payload_is_rejected(api: Api) -> None:
    token = await _signed_in(api)
    header, _, signature = token.split(".")
    claims = _claims(token) | {"role": "admin"}
    await _rejected(api, f"{header}.{_b64(claims)}.{signature}")


async def test_wrong_audience_and_issuer_are_rejected(api: Api) -> None:
    token = await _signed_in(api)
    key = OctKey.import_key(TEST_SECRET)
    claims = _claims(token)
    await _rejected(api, jwt.encode({"alg": "HS256"}, claims | {"aud": "someone-else"}, key))
    await _rejected(api, jwt.encode({"alg": "HS256"}, claims | {"iss": "https://evil.example"}, key))
    without_sid = {k: v for k, v in claims.items() if k != "sid"}
    await _rejected(api, jwt.encode({"alg": "HS256"}, without_sid, key))


async def test_expired_token_is_token_expired(api: Api) -> None:
    token = await _signed_in(api)
    key = OctKey.import_key(TEST_SECRET)
    past = int(time.time()) - 60
    await _rejected(api, jwt.encode({"alg": "HS256"}, _claims(token) | {"exp": past}, key), "TOKEN_EXPIRED")


async def test_garbage_tokens_are_invalid(api: Api) -> None:
    for garbage in ("abc", "a.b.c", "x" * 5000, "..", "eyJ.eyJ.sig"):
        await _rejected(api, garbage)


async def test_a_non_bearer_scheme_is_invalid(api: Api) -> None:
    result = await api.gql(ME, headers={"Authorization": "Basic YWJjOmRlZg=="})
    assert codes(result) == ["INVALID_TOKEN"]


async def test_public_data_still_flows_with_a_bad_token(api: Api) -> None:
    result = await api.gql("{ users_me { email } __typename }", token="bad")
    assert result["data"] == {"users_me": None, "__typename": "Query"}
    assert codes(result) == ["INVALID_TOKEN"]


def _rsa_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _ec_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


async def test_rs256_tokens_and_jwks(app_with) -> None:  # type: ignore[no-untyped-def]
    pem = _rsa_pem()
    async with app_with(ACCESS_TOKEN_ALG="RS256", ACCESS_TOKEN_PRIVATE_KEY=pem) as api:
        token = await _signed_in(api)
        assert (await api.gql(ME, token=token))["data"]["users_me"]["email"] == "ana@example.com"
        keys = (await api.http.get("/.well-known/jwks.json")).json()["keys"]
        assert len(keys) == 1 and keys[0]["kty"] == "RSA" and keys[0]["kid"] and "d" not in keys[0]
        # The published key verifies our tokens, as a resource server would check them.
        verified = jwt.decode(token, RSAKey.import_key(keys[0]), algorithms=["RS256"])
        assert verified.header["kid"] == keys[0]["kid"]

        # HS/RS confusion: an HS256 token "signed" with the public key must fail.
        # (joserfc refuses to build such a token, so sign it by hand.)
        public_pem = RSAKey.import_key(keys[0]).as_pem(private=False)
        signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(_claims(token))}"
        mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
        confused = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
        await _rejected(api, confused)
        await _rejected(api, jwt.encode({"alg": "RS256"}, _claims(token), RSAKey.import_key(_rsa_pem())))


async def test_es256_tokens_and_jwks(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(ACCESS_TOKEN_ALG="ES256", ACCESS_TOKEN_PRIVATE_KEY=_ec_pem()) as api:
        token = await _signed_in(api)
        assert (await api.gql(ME, token=token))["data"]["users_me"] is not None
        keys = (await api.http.get("/.well-known/jwks.json")).json()["keys"]
        assert keys[0]["kty"] == "EC" and keys[0]["crv"] == "P-256" and "d" not in keys[0]
        other = ECKey.import_key(_ec_pem())
        await _rejected(api, jwt.encode({"alg": "ES256", "kid": keys[0]["kid"]}, _claims(token), other))
