"""A real OpenID Provider for the tests, built on authlib's server side (Flask integration)
and served over loopback HTTP by werkzeug in a thread: discovery, authorization with PKCE,
the token endpoint issuing RS256 id_tokens, JWKS, userinfo, and GitHub-style plain OAuth 2.0
endpoints (/user, /user/emails).

The "person" who signs in is whatever `provider.person` says; `provider.deny = True` makes
the next authorization answer `access_denied`, as a person clicking "Cancel" would.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, jsonify, request
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from werkzeug.serving import make_server


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    scope: str = "openid email profile read:user user:email"

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        allowed = set(self.scope.split())
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: dict[str, Any]
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


class OpenIDProvider:
    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, Code] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        self.keys: list[RSAKey] = [RSAKey.generate_key(2048, parameters={"kid": "key-1"})]
        self.person: dict[str, Any] = {}
        self.deny = False
        self.emails: list[dict[str, Any]] | None = None  # what /user/emails answers
        self.token_requests = 0
        self.jwks_requests = 0
        self.app = self._build_app()
        self.server = make_server(self.host, 0, self.app, threaded=True)
        self.port = self.server.server_port
        self.issuer = f"http://{self.host}:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # --- test controls ----------------------------------------------------------------------

    def start(self) -> OpenIDProvider:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()

    def add_client(self, client_id: str, client_secret: str, redirect_uri: str) -> None:
        self.clients[client_id] = Client(client_id, client_secret, [redirect_uri])

    def rotate_key(self) -> None:
        """Sign with a new key from now on, published in the JWKS beside the old one."""
        self.keys.insert(0, RSAKey.generate_key(2048, parameters={"kid": f"key-{len(self.keys) + 1}"}))

    def id_token(self, audience: str, key: RSAKey | None = None, **claims: Any) -> str:
        """An id_token as this provider would issue it; override any claim to forge one."""
        now = int(time.time())
        signing_key = key or self.keys[0]
        body = {"iss": self.issuer, "aud": audience, "iat": now, "exp": now + 300, **self.person, **claims}
        return jwt.encode({"alg": "RS256", "kid": signing_key.kid}, body, signing_key)

    # --- the server -------------------------------------------------------------------------

    def _build_app(self) -> Flask:
        provider = self
        app = Flask("test-oidc-provider")
        app.config["OAUTH2_ERROR_URIS"] = []

        class Grant(AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

            def save_authorization_code(self, code: str, req: Any) -> None:
                data = req.payload.data
                provider.codes[code] = Code(
                    code=code,
                    client_id=req.client.client_id,
                    redirect_uri=req.payload.redirect_uri,
                    scope=req.payload.scope,
                    user=req.user,
                    nonce=data.get("nonce"),
                    code_challenge=data.get("code_challenge"),
                    code_challenge_method=data.get("code_challenge_method"),
                )

            def query_authorization_code(self, code: str, client: Client) -> Code | None:
                found = provider.codes.get(code)
                return found if found and found.client_id == client.client_id else None

            def delete_authorization_code(self, authorization_code: Code) -> None:
                provider.codes.pop(authorization_code.code, None)  # codes are single use

            def authenticate_user(self, authorization_code: Code) -> dict[str, Any]:
                return authorization_code.user

        class OpenID(OpenIDCode):
            def exists_nonce(self, nonce: str, req: Any) -> bool:
                return any(c.nonce == nonce for c in provider.codes.values())

            def resolve_client_private_key(self, client: Client) -> RSAKey:
                return provider.keys[0]

            def get_client_algorithm(self, client: Client) -> str:
                return "RS256"

            def get_encode_header(self, client: Client) -> dict[str, str]:
                return {"alg": "RS256", "kid": provider.keys[0].kid}

            def get_client_claims(self, client: Client) -> dict[str, Any]:
                return {"iss": provider.issuer, "aud": [client.client_id], "exp": int(time.time()) + 300}

            def generate_user_info(self, user: dict[str, Any], scope: str) -> UserInfo:
                return UserInfo({k: v for k, v in user.items() if k != "id"})

        def save_token(token: dict[str, Any], req: Any) -> None:
            provider.tokens[token["access_token"]] = req.user

        server = AuthorizationServer(app, query_client=self.clients.get, save_token=save_token)
        server.register_grant(Grant, [CodeChallenge(required=True), OpenID(require_nonce=False)])

        @app.get("/.well-known/openid-configuration")
        def discovery() -> Any:
            return jsonify(
                issuer=provider.issuer,
                authorization_endpoint=f"{provider.issuer}/authorize",
                token_endpoint=f"{provider.issuer}/token",
                userinfo_endpoint=f"{provider.issuer}/userinfo",
                jwks_uri=f"{provider.issuer}/jwks",
                response_types_supported=["code"],
                subject_types_supported=["public"],
                id_token_signing_alg_values_supported=["RS256"],
                code_challenge_methods_supported=["S256"],
            )

        @app.get("/jwks")
        def jwks() -> Any:
            provider.jwks_requests += 1
            return jsonify(KeySet(provider.keys).as_dict(private=False))

        @app.get("/authorize")
        def authorize() -> Any:
            person = None if provider.deny else dict(provider.person)
            provider.deny = False
            try:
                grant = server.get_consent_grant(end_user=person)
            except OAuth2Error as error:
                return server.handle_error_response(None, error)
            return server.create_authorization_response(grant=grant, grant_user=person)

        @app.post("/token")
        def token() -> Any:
            provider.token_requests += 1
            return server.create_token_response()

        def bearer_user() -> dict[str, Any] | None:
            header = request.headers.get("Authorization", "")
            return provider.tokens.get(header.removeprefix("Bearer ").strip())

        @app.get("/userinfo")
        def userinfo() -> Any:
            user = bearer_user()
            return (jsonify(user), 200) if user else (jsonify(error="invalid_token"), 401)

        @app.get("/user")
        def github_user() -> Any:
            user = bearer_user()
            if not user:
                return jsonify(message="Bad credentials"), 401
            return jsonify(
                id=user["id"], login=user.get("login"), name=user.get("name"), email=user.get("public_email")
            )

        @app.get("/user/emails")
        def github_emails() -> Any:
            if not bearer_user():
                return jsonify(message="Bad credentials"), 401
            return jsonify(provider.emails or [])

        return app


def main() -> None:
    """`python -m tests.oidc_provider`: a local provider to try social sign-in by hand.
    Every authorization signs in as the person below, without asking."""
    import argparse
    import os

    parser = argparse.ArgumentParser(prog="python -m tests.oidc_provider")
    parser.add_argument("--callback", default="http://127.0.0.1:8000/auth/login/local/callback")
    parser.add_argument("--email", default="ana@example.com")
    args = parser.parse_args()
    os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")
    provider = OpenIDProvider()
    provider.add_client("local-client", "local-secret", args.callback)
    provider.person = {"sub": "local-1", "email": args.email, "email_verified": True, "name": "Local Person"}
    print(f"issuer: {provider.issuer}  client id: local-client  secret: local-secret", flush=True)
    provider.server.serve_forever()


if __name__ == "__main__":
    main()
