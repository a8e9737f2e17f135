"""An application beside the server verifies HS256 access tokens with SECRET alone (contract
§5), and the README's example of it runs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from app.auth.secrets import derive_key
from app.models import User
from tests.conftest import BASE_URL, TEST_SECRET, Api, codes

README = Path(__file__).resolve().parent.parent / "README.md"
ME = "{ users_me { id email } }"


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


async def _token(api: Api) -> tuple[str, str]:
    await api.signup()
    user = await User.get(email="ana@example.com")
    return str((await api.login())["access_token"]), str(user.id)


def _readme_block(marker: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    [block] = [b for b in blocks if marker in b]
    return block


async def test_an_hs256_token_verifies_with_the_secret_itself(api: Api) -> None:
    token, _ = await _token(api)
    # Plain HMAC over the JWS signing input: nothing but SECRET is needed.
    signing_input, _, signature = token.rpartition(".")
    expected = hmac.new(TEST_SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    assert hmac.compare_digest(_unb64(signature), expected)
    assert json.loads(_unb64(token.split(".")[0]))["alg"] == "HS256"
    # And any JWT library with the secret as the key.
    decoded = jwt.decode(token, OctKey.import_key(TEST_SECRET), algorithms=["HS256"])
    assert decoded.claims["aud"] == "authenticated"
    assert decoded.claims["iss"] == BASE_URL


async def test_a_token_signed_with_a_key_derived_from_the_secret_is_refused(api: Api) -> None:
    token, _ = await _token(api)
    claims = json.loads(_unb64(token.split(".")[1]))
    derived = OctKey.import_key(derive_key(TEST_SECRET, "access-token"))
    forged = jwt.encode({"alg": "HS256"}, claims, derived)
    result = await api.gql(ME, token=forged)
    assert result["data"] == {"users_me": None}
    assert codes(result) == ["INVALID_TOKEN"]
    assert (await api.gql(ME, token=token))["data"]["users_me"]["email"] == "ana@example.com"


async def test_the_readme_hs256_example_verifies_our_tokens(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET", TEST_SECRET)
    monkeypatch.setenv("PUBLIC_URL", BASE_URL)
    namespace: dict[str, Any] = {}
    exec(compile(_readme_block("def verify_access_token"), "README.md", "exec"), namespace)  # noqa: S102
    verify = namespace["verify_access_token"]

    token, user_id = await _token(api)
    claims = verify(token)
    assert claims["sub"] == user_id and claims["role"] == "user"

    # It refuses what a host app must refuse: another audience or issuer, an expired token,
    # another key, and a token with no signature.
    key = OctKey.import_key(TEST_SECRET)
    for bad in ({"aud": "other"}, {"iss": "https://evil.example"}, {"exp": claims["iat"] - 60}):
        with pytest.raises(JoseError):
            verify(jwt.encode({"alg": "HS256"}, claims | bad, key))
    with pytest.raises(JoseError):
        verify(jwt.encode({"alg": "HS256"}, claims, OctKey.import_key("another secret of 32 characters!")))
    unsigned = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode() + "." + token.split(".")[1] + "."
    with pytest.raises((JoseError, ValueError)):
        verify(unsigned)
