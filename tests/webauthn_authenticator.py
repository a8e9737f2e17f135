"""A WebAuthn authenticator and the browser side of a ceremony, in Python, for tests.

It does what a platform authenticator and the browser do together (WebAuthn Level 2, §6.1,
§6.3.2, §6.3.3, §7.1, §7.2 from the client's side): an EC P-256 key pair per credential, the
clientDataJSON, authenticatorData (rpIdHash, flags, signature counter, attested credential
data with a COSE key), a "none" attestation, and an ES256 signature over
authenticatorData || sha256(clientDataJSON). Its output is the JSON a page sends after
navigator.credentials.create() / .get(). Knobs let a test play a phishing page (another
origin or RP id), a cloned authenticator (counter going back) or one without a counter.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, AT = 0x01, 0x04, 0x40
AAGUID = bytes(16)  # "none" attestation: an all-zero AAGUID is allowed


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def from_b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Credential:
    id: bytes
    key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0

    def cose_public_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})


@dataclass
class Authenticator:
    """`origin` is where the page runs; the RP id is what the options name unless a test
    overrides it. `counts=False` is an authenticator that keeps no counter (always 0)."""

    origin: str = "http://localhost:8000"
    counts: bool = True
    user_verified: bool = True
    credentials: list[Credential] = field(default_factory=list)

    def create(self, options: dict[str, Any], *, origin: str | None = None, rp_id: str | None = None) -> dict[str, Any]:
        """navigator.credentials.create({publicKey: options}) and the page's JSON of it."""
        rp = rp_id or options["rp"]["id"]
        excluded = {c["id"] for c in options.get("excludeCredentials") or []}
        if any(b64url(c.id) in excluded for c in self.credentials if c.rp_id == rp):
            raise RuntimeError("InvalidStateError: this authenticator already holds a credential for the account")
        algorithms = [p["alg"] for p in options["pubKeyCredParams"]]
        assert -7 in algorithms, algorithms
        credential = Credential(
            id=os.urandom(32),
            key=ec.generate_private_key(ec.SECP256R1()),
            rp_id=rp,
            user_handle=from_b64url(options["user"]["id"]),
        )
        self.credentials.append(credential)
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        attested = AAGUID + struct.pack(">H", len(credential.id)) + credential.id + credential.cose_public_key()
        auth_data = self._auth_data(rp, credential, AT) + attested
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": b64url(credential.id),
            "rawId": b64url(credential.id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal", "hybrid"],
            },
        }

    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        credential: Credential | None = None,
    ) -> dict[str, Any]:
        """navigator.credentials.get({publicKey: options}): the first of our credentials the
        options allow (any for the RP id when they list none: a discoverable credential)."""
        rp = rp_id or options["rpId"]
        if credential is None:
            allowed = {c["id"] for c in options.get("allowCredentials") or []}
            usable = [c for c in self.credentials if c.rp_id == rp and (not allowed or b64url(c.id) in allowed)]
            if not usable:
                raise RuntimeError("NotAllowedError: no credential for these options")
            credential = usable[0]
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        auth_data = self._auth_data(rp, credential, 0)
        signature = credential.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return {
            "id": b64url(credential.id),
            "rawId": b64url(credential.id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(credential.user_handle),
            },
        }

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        data = {"type": kind, "challenge": challenge, "origin": origin or self.origin, "crossOrigin": False}
        return json.dumps(data, separators=(",", ":")).encode()

    def _auth_data(self, rp_id: str, credential: Credential, extra_flags: int) -> bytes:
        if self.counts:
            credential.sign_count += 1
        flags = UP | (UV if self.user_verified else 0) | extra_flags
        return hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", credential.sign_count)
