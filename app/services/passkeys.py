"""Passkeys (WebAuthn, with py_webauthn): registering them on an account, signing in with
them, listing and removing them.

The relying party is PUBLIC_URL: its host is the RP id and its origin the only origin
accepted (browsers refuse an IP address as RP id: use `http://localhost:PORT` in
development). Every ceremony starts with options holding a fresh challenge, stored hashed
(WebAuthnChallenge): it is spent by the first response that names it, expires after
CHALLENGE_TTL, and a registration challenge only serves the account that asked for it.

User verification is required, so a passkey is two factors in one (the device, and the
PIN or biometric that unlocks it): a passkey sign-in does not ask for the TOTP code.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from tortoise.exceptions import IntegrityError

from app.auth.identifiers import normalize_email
from app.auth.secrets import derive_key, hash_token
from app.config import Settings
from app.errors import AppError, InvalidCredentials, InvalidPayload, InvalidToken, RecordNotUnique, TokenExpired
from app.models import Ceremony, Passkey, User, WebAuthnChallenge
from app.services import audit, one_time
from app.services.budgets import Budgets
from app.services.client import ClientInfo, now
from app.services.revocations import in_transaction
from app.services.sessions import IssuedTokens, SessionService
from app.services.timing import stall
from app.services.users import clean_name
from app.services.ways_in import keeps_a_way_in

# py_webauthn (and the attestation parsers it loads: pyasn1, cbor2, pyOpenSSL) costs 5 MB:
# it is imported by the methods below, when a passkey is used, not by a server that never does.
if TYPE_CHECKING:
    from webauthn.helpers.structs import (
        AuthenticationCredential,
        PublicKeyCredentialDescriptor,
        RegistrationCredential,
    )

log = logging.getLogger("app.passkeys")

CHALLENGE_TTL = 300  # seconds: the contract's five minutes
MAX_PASSKEYS = 20  # per account; each is listed in every sign-in's options
DEFAULT_NAME = "Passkey"
# What a decoy credential (options for an email without passkeys) says it travels by.
_DECOY_TRANSPORTS = (["internal", "hybrid"], ["usb", "nfc"], ["hybrid", "internal"], ["internal"])

Parsed = TypeVar("Parsed", "RegistrationCredential", "AuthenticationCredential")


class PasskeyService:
    def __init__(self, settings: Settings, sessions: SessionService, budgets: Budgets) -> None:
        self.settings = settings
        self.sessions = sessions
        self.budgets = budgets
        self.rp_id = urlsplit(settings.public_url).hostname or "localhost"
        self.origin = settings.public_origin
        self.rp_name = settings.mfa_issuer
        self._decoy_key = derive_key(settings.secret, "passkey-decoy")
        if _is_ip_address(self.rp_id):
            log.warning(
                "PUBLIC_URL's host %s is an IP address; browsers refuse it as a WebAuthn RP id, so passkeys "
                "will not work (use http://localhost:PORT in development)",
                self.rp_id,
            )

    # --- registration (a signed-in session) ------------------------------------------------

    async def registration_options(self, user: User) -> dict[str, Any]:
        """PublicKeyCredentialCreationOptions as JSON, excluding the account's passkeys."""
        from webauthn import generate_registration_options
        from webauthn.helpers import options_to_json_dict
        from webauthn.helpers.structs import (
            AuthenticatorSelectionCriteria,
            ResidentKeyRequirement,
            UserVerificationRequirement,
        )

        mine = await Passkey.filter(user_id=user.id).order_by("created_at")
        if len(mine) >= MAX_PASSKEYS:
            raise InvalidPayload(f"An account holds at most {MAX_PASSKEYS} passkeys.")
        options = generate_registration_options(
            rp_id=self.rp_id,
            rp_name=self.rp_name,
            # The user handle is the account id: no personal data goes to the authenticator
            # as an identifier (the name below is only shown).
            user_id=user.id.bytes,
            user_name=user.email or user.phone or str(user.id),
            user_display_name=user.name or user.email or user.phone or "",
            timeout=CHALLENGE_TTL * 1000,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED,
                user_verification=UserVerificationRequirement.REQUIRED,
            ),
            exclude_credentials=[_descriptor(p) for p in mine],
        )
        await self._remember(options.challenge, Ceremony.register, user)
        return options_to_json_dict(options)

    async def register(self, user: User, credential: object, name: str | None, client: ClientInfo) -> Passkey:
        from webauthn import verify_registration_response
        from webauthn.helpers import bytes_to_base64url, parse_registration_credential_json

        parsed = _parse(credential, parse_registration_credential_json)
        await self._spend(parsed, Ceremony.register, user)
        try:
            verified = verify_registration_response(
                credential=parsed,
                expected_challenge=_challenge_of(parsed),
                expected_rp_id=self.rp_id,
                expected_origin=self.origin,
                require_user_verification=True,
            )
        except Exception as exc:  # noqa: BLE001 - any failure of a hostile response is a refusal
            log.info("passkey registration refused: %s", exc)
            raise InvalidPayload("The passkey could not be verified.") from None
        transports = [t.value for t in parsed.response.transports or [] if t.value in _transports()]
        try:
            async with in_transaction():
                await one_time.lock_user(user.id)
                if await Passkey.filter(user_id=user.id).count() >= MAX_PASSKEYS:
                    raise InvalidPayload(f"An account holds at most {MAX_PASSKEYS} passkeys.")
                passkey = await Passkey.create(
                    user_id=user.id,
                    credential_id=bytes_to_base64url(verified.credential_id),
                    public_key=verified.credential_public_key,
                    sign_count=verified.sign_count,
                    transports=",".join(sorted(set(transports))),
                    name=clean_name(name) or DEFAULT_NAME,
                )
        except IntegrityError:
            raise RecordNotUnique("This passkey is already registered.") from None
        await audit.record("passkey.registered", user_id=user.id, client=client, passkey_id=str(passkey.id))
        return passkey

    async def list(self, user: User) -> list[Passkey]:
        return list(await Passkey.filter(user_id=user.id).order_by("created_at", "id"))

    async def delete(self, user: User, passkey_id: str, client: ClientInfo) -> None:
        """Never the last way in; someone else's passkey looks like a missing one."""
        async with in_transaction():
            locked = await one_time.lock_user(user.id)
            passkey = await Passkey.get_or_none(id=passkey_id, user_id=user.id)
            if locked is None or passkey is None:
                raise InvalidPayload("No such passkey.")
            if not await keeps_a_way_in(locked, passkey_id=passkey_id):
                raise InvalidPayload("This is the last way to sign in to the account.")
            await passkey.delete()
        await audit.record("passkey.deleted", user_id=user.id, client=client, passkey_id=passkey_id)

    # --- sign-in ---------------------------------------------------------------------------

    async def login_options(self, email: str | None) -> dict[str, Any]:
        """PublicKeyCredentialRequestOptions as JSON. With an email, its passkeys are listed;
        an email without any (unknown or not) gets a decoy list, the same every time for that
        email, so the answer tells nothing about the account. Without one, the browser offers
        discoverable credentials."""
        from webauthn import generate_authentication_options
        from webauthn.helpers import options_to_json_dict
        from webauthn.helpers.structs import UserVerificationRequirement

        allowed: list[PublicKeyCredentialDescriptor] = []
        user: User | None = None
        async with stall(self.settings.login_stall_time):
            if email is not None:
                address = normalize_email(email)
                user = await User.by_email(address)
                # The same query whether or not the account exists.
                owner = user.id if user is not None else uuid.UUID(int=0)
                allowed = [_descriptor(p) for p in await Passkey.filter(user_id=owner).order_by("created_at")]
                if not allowed:
                    user = None
                    allowed = [self._decoy(address)]
            options = generate_authentication_options(
                rp_id=self.rp_id,
                timeout=CHALLENGE_TTL * 1000,
                allow_credentials=allowed,
                user_verification=UserVerificationRequirement.REQUIRED,
            )
            await self._remember(options.challenge, Ceremony.login, user)
        return options_to_json_dict(options)

    async def login(self, credential: object, client: ClientInfo) -> IssuedTokens:
        """A verified assertion opens a session, as any sign-in does; it satisfies MFA."""
        from webauthn.helpers import bytes_to_base64url, parse_authentication_credential_json

        user: User | None = None
        async with stall(self.settings.login_stall_time):
            try:
                parsed = _parse(credential, parse_authentication_credential_json)
                expected = await self._spend(parsed, Ceremony.login, None)
                passkey = await Passkey.get_or_none(credential_id=bytes_to_base64url(parsed.raw_id)).select_related(
                    "user"
                )
                if passkey is None:
                    raise InvalidCredentials()
                user = passkey.user
                async with self.budgets.known_user_guess(passkey.user_id, client):
                    count = self._check_assertion(parsed, passkey, expected)
                    # Conditional update: of two assertions with one counter value (a cloned
                    # authenticator, or a replay racing the original) only one gets in.
                    moved = await Passkey.filter(id=passkey.id, sign_count=passkey.sign_count).update(
                        sign_count=count, last_used_at=now()
                    )
                    if not moved:
                        raise InvalidCredentials()
                user.check_can_sign_in()
            except AppError as error:
                await audit.record(
                    "login.failed",
                    user_id=user.id if user else None,
                    client=client,
                    provider="passkey",
                    code=error.code,
                )
                raise
            issued = await self.sessions.open(user, client)
            await audit.record("login", user_id=user.id, client=client, provider="passkey")
            return issued

    def _check_assertion(self, parsed: AuthenticationCredential, passkey: Passkey, expected: WebAuthnChallenge) -> int:
        """The assertion's sign count once it is verified; the counter must have grown,
        unless the authenticator keeps none (both zero, as the spec allows)."""
        from webauthn import verify_authentication_response

        if expected.user_id is not None and expected.user_id != passkey.user_id:
            # Options asked for one account's passkeys; another account's cannot answer them.
            raise InvalidCredentials()
        handle = parsed.response.user_handle
        if handle and handle != passkey.user_id.bytes:
            raise InvalidCredentials()
        try:
            verified = verify_authentication_response(
                credential=parsed,
                expected_challenge=_challenge_of(parsed),
                expected_rp_id=self.rp_id,
                expected_origin=self.origin,
                credential_public_key=bytes(passkey.public_key),
                credential_current_sign_count=int(passkey.sign_count),
                require_user_verification=True,
            )
        except Exception as exc:  # noqa: BLE001 - any failure of a hostile response is a refusal
            log.info("passkey assertion refused for passkey %s: %s", passkey.id, exc)
            raise InvalidCredentials() from None
        return verified.new_sign_count

    async def _spend(self, parsed: Parsed, ceremony: Ceremony, user: User | None) -> WebAuthnChallenge:
        """The challenge the response signed, marked used; one of another account (a
        registration) or an unknown, used or expired one is refused."""
        challenge = await WebAuthnChallenge.get_or_none(challenge_hash=_hash(_challenge_of(parsed)), ceremony=ceremony)
        if challenge is None or challenge.used_at is not None:
            raise InvalidToken()
        if user is not None and challenge.user_id != user.id:
            raise InvalidToken()
        if challenge.expires_at <= now():
            raise TokenExpired()
        # Conditional update: of two responses racing with one challenge only one goes on.
        if not await WebAuthnChallenge.filter(id=challenge.id, used_at=None).update(used_at=now()):
            raise InvalidToken()
        return challenge

    async def _remember(self, challenge: bytes, ceremony: Ceremony, user: User | None) -> None:
        await WebAuthnChallenge.create(
            challenge_hash=_hash(challenge),
            ceremony=ceremony,
            user=user,
            expires_at=now() + timedelta(seconds=CHALLENGE_TTL),
        )

    def _decoy(self, address: str) -> PublicKeyCredentialDescriptor:
        """A credential id that looks like a real one (a length real authenticators use), the
        same for the same email every time and unguessable without SECRET."""
        from webauthn.helpers.structs import AuthenticatorTransport, PublicKeyCredentialDescriptor

        digest = hmac.new(self._decoy_key, address.encode(), hashlib.sha512).digest()
        length = (16, 32, 48, 64)[digest[0] % 4]
        seed = hmac.new(self._decoy_key, b"id:" + digest, hashlib.sha512).digest()
        transports = [AuthenticatorTransport(t) for t in _DECOY_TRANSPORTS[digest[1] % len(_DECOY_TRANSPORTS)]]
        return PublicKeyCredentialDescriptor(id=seed[:length], transports=transports)


def _transports() -> frozenset[str]:
    from webauthn.helpers.structs import AuthenticatorTransport

    return frozenset(t.value for t in AuthenticatorTransport)


def _descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptor:
    from webauthn import base64url_to_bytes
    from webauthn.helpers.structs import AuthenticatorTransport, PublicKeyCredentialDescriptor

    transports = [AuthenticatorTransport(t) for t in passkey.transport_list if t in _transports()]
    return PublicKeyCredentialDescriptor(id=base64url_to_bytes(passkey.credential_id), transports=transports or None)


def _parse(credential: object, parser: Any) -> Any:
    """The browser's PublicKeyCredential as JSON (an object, or that object as a string)."""
    if isinstance(credential, Mapping):
        credential = dict(credential)
    if not isinstance(credential, str | dict):
        raise InvalidPayload("The credential must be the JSON of a PublicKeyCredential.")
    try:
        return parser(credential)
    except Exception:  # noqa: BLE001 - py_webauthn raises many kinds on malformed input
        raise InvalidPayload("The credential must be the JSON of a PublicKeyCredential.") from None


def _challenge_of(parsed: RegistrationCredential | AuthenticationCredential) -> bytes:
    from webauthn.helpers import parse_client_data_json

    try:
        challenge = parse_client_data_json(parsed.response.client_data_json).challenge
    except Exception:  # noqa: BLE001 - malformed clientDataJSON
        raise InvalidPayload("The credential's clientDataJSON is malformed.") from None
    if not challenge:
        raise InvalidPayload("The credential's clientDataJSON is malformed.")
    return challenge


def _hash(challenge: bytes) -> str:
    from webauthn.helpers import bytes_to_base64url

    return hash_token(bytes_to_base64url(challenge))


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
