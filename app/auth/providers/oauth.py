"""OAuth 2.0 / OpenID Connect client side: discovery, JWKS, PKCE, code exchange, id_token
verification and profile fetching. authlib builds the authorization request and the PKCE
challenge; requests go through httpx (authlib's httpx integration now warns in favour of
`httpx2`), and id_tokens are checked with joserfc, authlib's JOSE library, every claim
explicitly.

authlib and httpx are imported when a provider is used: a server without social sign-in
keeps their memory (about 2.5 MB)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from app.auth.secrets import new_token
from app.config import SocialProvider
from app.errors import InvalidCredentials, InvalidToken, ServiceUnavailable, TokenExpired
from app.models import User

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("app.oauth")

ID_TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA"]
JWKS_REFRESH_MIN_INTERVAL = 30  # seconds between refetches on an unknown kid
TIMEOUT = 10


@dataclass(frozen=True)
class Profile:
    """Who the provider says signed in."""

    subject: str
    email: str | None
    email_verified: bool
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge) per RFC 7636."""
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    verifier = new_token(48)
    return verifier, create_s256_code_challenge(verifier)


class OAuthClient:
    """One configured provider (a driver `openid` or `oauth2`)."""

    def __init__(self, config: SocialProvider, redirect_uri: str, transport: httpx.AsyncBaseTransport | None = None):
        self.config = config
        self.name = config.name
        self.redirect_uri = redirect_uri
        self.transport = transport
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._last_forced_fetch = -float(JWKS_REFRESH_MIN_INTERVAL)

    # --- endpoints -------------------------------------------------------------------------

    async def metadata(self) -> dict[str, Any]:
        if self.config.driver != "openid":
            return {
                "authorization_endpoint": self.config.authorize_url,
                "token_endpoint": self.config.access_url,
                "userinfo_endpoint": self.config.profile_url,
            }
        if self._metadata is None:
            issuer = (self.config.issuer_url or "").rstrip("/")
            document = await self._get_json(f"{issuer}/.well-known/openid-configuration")
            for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(document.get(key), str):
                    raise ServiceUnavailable(f"The {self.name} discovery document lacks {key}.")
            self._metadata = document
        return self._metadata

    async def authorize_url(self, state: str, nonce: str, challenge: str) -> str:
        from authlib.oauth2.rfc6749.parameters import prepare_grant_uri

        endpoint = (await self.metadata())["authorization_endpoint"]
        extra = {"nonce": nonce} if self.config.driver == "openid" else {}
        uri: str = prepare_grant_uri(
            endpoint,
            client_id=self.config.client_id,
            response_type="code",
            redirect_uri=self.redirect_uri,
            scope=self.config.scope,
            state=state,
            code_challenge=challenge,
            code_challenge_method="S256",
            **extra,
        )
        return uri

    async def exchange(self, code: str, verifier: str) -> dict[str, Any]:
        """Trade the authorization code (and PKCE verifier) for tokens."""
        import httpx

        endpoint = (await self.metadata())["token_endpoint"]
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret,
            "code_verifier": verifier,
        }
        try:
            async with self._client() as client:
                response = await client.post(endpoint, data=data, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"{self.name} is unreachable.") from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code >= 400 or not isinstance(body, dict) or "error" in body or "access_token" not in body:
            # Only the error fields: a body may carry tokens, which never go to the log.
            error = body.get("error") if isinstance(body, dict) else None
            log.info("%s token exchange refused: %s %s", self.name, response.status_code, str(error)[:100])
            raise InvalidCredentials()
        return body

    # --- who signed in ----------------------------------------------------------------------

    async def profile(self, tokens: Mapping[str, Any], nonce: str | None) -> Profile:
        if self.config.driver == "openid":
            id_token = tokens.get("id_token")
            if not isinstance(id_token, str):
                raise InvalidCredentials()
            return await self.verify_id_token(id_token, nonce=nonce)
        return await self._oauth2_profile(str(tokens["access_token"]))

    async def verify_id_token(self, id_token: str, nonce: str | None = None) -> Profile:
        """Signature from the provider's JWKS (refetched once on an unknown kid), then iss,
        aud, exp, iat and, in the redirect flow, nonce."""
        if self.config.driver != "openid":
            raise InvalidCredentials()
        if len(id_token) > 16_384 or id_token.count(".") != 2:
            raise InvalidToken()
        metadata = await self.metadata()
        keys = await self._jwks(force=False)
        try:
            try:
                decoded = jwt.decode(id_token, keys, algorithms=ID_TOKEN_ALGORITHMS)
            except (JoseError, ValueError):
                # Perhaps a rotated signing key: refetch the JWKS (forced refetches at most
                # every 30 s, so forged kids cannot hammer the provider), then retry.
                refreshed = await self._jwks(force=True)
                if refreshed is keys:
                    raise
                decoded = jwt.decode(id_token, refreshed, algorithms=ID_TOKEN_ALGORITHMS)
            claims = decoded.claims
            JWTClaimsRegistry(
                leeway=60,
                iss={"essential": True, "value": metadata["issuer"]},
                sub={"essential": True},
                exp={"essential": True},
                iat={"essential": True},
            ).validate(claims)
        except ExpiredTokenError:
            raise TokenExpired() from None
        except (JoseError, ValueError, TypeError) as exc:
            log.info("%s id_token refused: %s", self.name, exc)
            raise InvalidToken() from None
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.config.client_id not in audiences:
            raise InvalidToken()
        if len(audiences) > 1 and claims.get("azp") != self.config.client_id:
            raise InvalidToken()
        if nonce is not None and claims.get("nonce") != nonce:
            raise InvalidToken()
        return self._profile_from(claims, verified_claim=claims.get("email_verified"))

    async def _oauth2_profile(self, access_token: str) -> Profile:
        headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
        data = await self._get_json(self.config.profile_url or "", headers=headers)
        profile = self._profile_from(data, verified_claim=data.get("email_verified"))
        if self.config.emails_url and not (profile.email and profile.email_verified):
            # GitHub: the public profile may hide the address; /user/emails says which are verified.
            emails = await self._get_json(self.config.emails_url, headers=headers)
            if isinstance(emails, list):
                primary = next((e for e in emails if isinstance(e, dict) and e.get("primary")), None)
                if primary and isinstance(primary.get("email"), str):
                    verified = primary.get("verified") is True
                    profile = Profile(profile.subject, primary["email"], verified, profile.name)
        return profile

    def _profile_from(self, data: Mapping[str, Any], verified_claim: object) -> Profile:
        subject = data.get(self.config.identifier_key)
        if subject is None or not 0 < len(str(subject)) <= 255:
            raise InvalidCredentials()
        email = data.get(self.config.email_key)
        return Profile(
            subject=str(subject),
            email=email if isinstance(email, str) and email else None,
            email_verified=verified_claim is True or verified_claim == "true",
            name=data.get("name") if isinstance(data.get("name"), str) else None,
            first_name=data.get("given_name") if isinstance(data.get("given_name"), str) else None,
            last_name=data.get("family_name") if isinstance(data.get("family_name"), str) else None,
        )

    # --- plumbing ---------------------------------------------------------------------------

    async def _jwks(self, force: bool) -> KeySet:
        now = time.monotonic()
        if self._keys is not None:
            if not force or now - self._last_forced_fetch < JWKS_REFRESH_MIN_INTERVAL:
                return self._keys
            self._last_forced_fetch = now
        document = await self._get_json((await self.metadata())["jwks_uri"])
        try:
            self._keys = KeySet.import_key_set(document)
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise ServiceUnavailable(f"The {self.name} JWKS is unusable.") from exc
        return self._keys

    async def _get_json(self, url: str, headers: Mapping[str, str] | None = None) -> Any:
        import httpx

        try:
            async with self._client() as client:
                response = await client.get(url, headers=dict(headers or {}))
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"{self.name} is unreachable.") from exc
        if response.status_code == 401:
            raise InvalidCredentials()
        if response.status_code >= 400:
            raise ServiceUnavailable(f"{self.name} answered {response.status_code}.")
        try:
            return response.json()
        except ValueError as exc:
            raise ServiceUnavailable(f"{self.name} answered something other than JSON.") from exc

    def _client(self) -> httpx.AsyncClient:
        import httpx

        return httpx.AsyncClient(transport=self.transport, timeout=TIMEOUT, follow_redirects=False)


class IdTokenProvider:
    """The registry's face of a social provider: sign-in with an id_token (Graphcool's
    `signinUser(auth0: {idToken})` / `signinUser(oidc: {provider, idToken})`)."""

    def __init__(self, client: OAuthClient, find_user: Any) -> None:
        self.name = client.name
        self.client = client
        self.find_user = find_user

    async def authenticate(self, payload: Mapping[str, str]) -> User:
        profile = await self.client.verify_id_token(payload.get("idToken") or "")
        user: User = await self.find_user(self.client.config, profile)
        return user
