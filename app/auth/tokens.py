"""Access tokens (JWT via joserfc) and refresh-token derivation.

The algorithm is pinned from configuration; `alg: none`, HS/RS confusion and any other
algorithm fail in `jwt.decode(..., algorithms=[pinned])`. joserfc checks claims only when
asked, so every check lives in `decode` below.
"""

from __future__ import annotations

import hmac
import re
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import ECKey, OctKey, RSAKey
from joserfc.jwt import JWTClaimsRegistry

from app.auth.secrets import derive_key
from app.config import Settings
from app.errors import InvalidToken, TokenExpired

MAX_TOKEN_LENGTH = 4096
# Tokens whose signature and claims were checked, by their text: a client sends the same
# access token for its whole lifetime, and a signature that verified once verifies again.
# Only `exp` is checked again. Bounded; only valid tokens (made with our key) get in.
VERIFIED_TOKENS = 4096


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    session_id: str
    role: str
    expires_at: int


class AccessTokens:
    def __init__(self, settings: Settings) -> None:
        self.alg = settings.access_token_alg
        self.ttl = int(settings.access_token_ttl)
        self.issuer = settings.issuer
        self.audience = settings.access_token_audience
        self.key: OctKey | ECKey | RSAKey
        if self.alg == "HS256":
            # The UTF-8 bytes of SECRET itself (contract §5), so an application beside us
            # verifies tokens with the shared secret and any JWT library. Our own MACs
            # (refresh tokens, sealed cookies, TOTP seeds) use keys derived from it instead.
            self.key = OctKey.import_key(settings.secret.encode())
            self.kid: str | None = None
        else:
            pem = (settings.access_token_private_key or "").replace("\\n", "\n")
            key_type = ECKey if self.alg == "ES256" else RSAKey
            self.key = key_type.import_key(pem)
            self.kid = self.key.thumbprint()
        self.registry = JWTClaimsRegistry(
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience},
            exp={"essential": True},
            sub={"essential": True},
            sid={"essential": True},
        )
        self.verified: OrderedDict[str, AccessClaims] = OrderedDict()

    def issue(self, user_id: str, session_id: str, role: str) -> tuple[str, int]:
        """(token, lifetime in milliseconds)."""
        now = int(time.time())
        header: dict[str, Any] = {"alg": self.alg}
        if self.kid:
            header["kid"] = self.kid
        claims = {
            "sub": user_id,
            "sid": session_id,
            "role": role,
            "iat": now,
            "exp": now + self.ttl,
            "iss": self.issuer,
            "aud": self.audience,
        }
        return jwt.encode(header, claims, self.key, algorithms=[self.alg]), self.ttl * 1000

    def decode(self, token: str) -> AccessClaims:
        claims = self.verified.get(token)
        if claims is not None:
            if claims.expires_at <= int(time.time()):
                del self.verified[token]
                raise TokenExpired()
            return claims
        claims = self._decode(token)
        self.verified[token] = claims
        if len(self.verified) > VERIFIED_TOKENS:
            self.verified.popitem(last=False)
        return claims

    def _decode(self, token: str) -> AccessClaims:
        if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
            raise InvalidToken()
        try:
            decoded = jwt.decode(token, self.key, algorithms=[self.alg])
            self.registry.validate(decoded.claims)
        except ExpiredTokenError:
            raise TokenExpired() from None
        except (JoseError, ValueError, TypeError):
            raise InvalidToken() from None
        claims = decoded.claims
        if not all(isinstance(claims.get(k), str) for k in ("sub", "sid", "role")):
            raise InvalidToken()
        return AccessClaims(claims["sub"], claims["sid"], claims["role"], int(claims["exp"]))

    def jwks(self) -> dict[str, Any]:
        if self.alg == "HS256":
            return {"keys": []}
        public = self.key.as_dict(private=False)
        return {"keys": [{**public, "kid": self.kid, "alg": self.alg, "use": "sig"}]}


class RefreshTokens:
    """Refresh tokens are `r_<session id>.<HMAC(secret, seed:generation)>`: 256 bits of MAC,
    unguessable without the server secret and never stored (only the current one's sha256).
    Naming the session lets any older generation be recognised, so a copied token is
    caught however late it is replayed, and a refresh that races a rotation can be given
    the same successor."""

    def __init__(self, settings: Settings) -> None:
        self.key = derive_key(settings.secret, "refresh-token")

    def derive(self, session_id: str, seed: str, generation: int) -> str:
        digest = hmac.new(self.key, f"{seed}:{generation}".encode(), sha256).hexdigest()
        return f"r_{uuid.UUID(session_id).hex}.{digest}"

    @staticmethod
    def session_id_of(token: str) -> str:
        match = _REFRESH_TOKEN.match(token or "")
        if not match:
            raise InvalidToken()
        return str(uuid.UUID(match.group(1)))


_REFRESH_TOKEN = re.compile(r"^r_([0-9a-f]{32})\.[0-9a-f]{64}$")
