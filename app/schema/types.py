"""Strawberry types, and the only place model instances become GraphQL objects."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import NewType, TypeVar

import strawberry
from strawberry import UNSET
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.permission import BasePermission
from strawberry.scalars import JSON
from strawberry.schema.types.base_scalars import DateTimeDefinition
from strawberry.types.scalar import ScalarDefinition

from app.http.delivery import Mode, TokenBody
from app.models import ApiToken as ApiTokenModel
from app.models import AuditEvent as AuditEventModel
from app.models import Identity as IdentityModel
from app.models import Passkey as PasskeyModel
from app.models import Role, Status
from app.models import Session as SessionModel
from app.models import User as UserModel
from app.schema.ids import to_global_id
from app.schema.permissions import IsOwnerOrAdmin

T = TypeVar("T")


def given(value: T | None) -> T | None:
    """An omitted argument (UNSET) reads as None."""
    return None if value is UNSET else value


GraphQLBigInt = NewType("GraphQLBigInt", int)


def _utc_datetime(value: object) -> datetime:
    """A DateTime input, in UTC. Without an offset it is read as UTC: every stored time is
    aware, and comparing a naive one with them raised TypeError (a 500)."""
    parsed = DateTimeDefinition.parse_value(value)  # type: ignore[misc]
    assert isinstance(parsed, datetime)  # noqa: S101 - isoparse returns datetimes
    try:
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-14:00 has no UTC time
        raise StrawberryInputCoercionError(f'Value cannot represent a DateTime: "{value}". Out of range.') from None


SCALARS: dict[object, ScalarDefinition] = {
    GraphQLBigInt: strawberry.scalar(
        name="GraphQLBigInt",
        description="An integer sent as a digit string, as Directus does.",
        serialize=lambda value: str(value),
        parse_value=lambda value: int(value),
    ),
    # Strawberry's own DateTime (same name and description, so the schema reads the same).
    datetime: dataclasses.replace(DateTimeDefinition, parse_value=_utc_datetime, implementation=None),
}


# The one Mode of token delivery (app/http/delivery.py), for GraphQL and REST alike.
strawberry.enum(Mode, name="auth_mode")


# The models' own enums, under the contract's GraphQL names (no twins to convert between).
strawberry.enum(Role, name="user_role")
strawberry.enum(Status, name="user_status")


@strawberry.type(name="auth_tokens")
class AuthTokens:
    access_token: str | None
    expires: GraphQLBigInt | None
    refresh_token: str | None

    @classmethod
    def from_body(cls, body: TokenBody) -> AuthTokens:
        expires = GraphQLBigInt(body.expires)
        return cls(access_token=body.access_token, expires=expires, refresh_token=body.refresh_token)


@strawberry.interface(name="Node", description="An object with a global id (Relay).")
class Node:
    id: strawberry.ID


_owner: list[type[BasePermission]] = [IsOwnerOrAdmin]


@strawberry.type(name="User")
class User(Node):
    owner_id: strawberry.Private[str]
    # True when the caller is the user themself though not signed in as them yet
    # (the user just created or signed in): they see their own fields.
    revealed: strawberry.Private[bool]
    name: str | None
    email: str | None = strawberry.field(permission_classes=_owner)
    phone: str | None = strawberry.field(permission_classes=_owner)
    first_name: str | None = strawberry.field(permission_classes=_owner)
    last_name: str | None = strawberry.field(permission_classes=_owner)
    role: Role | None = strawberry.field(permission_classes=_owner)
    status: Status | None = strawberry.field(permission_classes=_owner)
    email_verified: bool | None = strawberry.field(permission_classes=_owner)
    tfa_enabled: bool | None = strawberry.field(permission_classes=_owner)
    created_at: datetime | None = strawberry.field(permission_classes=_owner)
    last_login_at: datetime | None = strawberry.field(permission_classes=_owner)

    @classmethod
    def from_model(cls, user: UserModel, *, revealed: bool = False) -> User:
        return cls(
            id=to_global_id("User", str(user.id)),
            owner_id=str(user.id),
            revealed=revealed,
            name=user.name,
            email=user.email,
            phone=user.phone,
            first_name=user.first_name,
            last_name=user.last_name,
            role=Role(user.role),
            status=Status(user.status),
            email_verified=user.email_verified,
            tfa_enabled=user.tfa_enabled,
            created_at=user.created_at,
            last_login_at=user.last_login_at,
        )


@strawberry.input(name="AUTH_PROVIDER_EMAIL")
class AuthProviderEmail:
    email: str
    password: str


@strawberry.input(name="AUTH_PROVIDER_PHONE", description="Replaces the defunct Digits service.")
class AuthProviderPhone:
    phone: str
    code: str


@strawberry.input(name="AUTH_PROVIDER_AUTH0")
class AuthProviderAuth0:
    idToken: str  # noqa: N815 - Graphcool's name


@strawberry.input(name="AUTH_PROVIDER_OIDC")
class AuthProviderOidc:
    provider: str
    idToken: str  # noqa: N815 - Graphcool's name


@strawberry.input(name="AuthProviderSignupData", description="Exactly one member must be set.")
class AuthProviderSignupData:
    email: AuthProviderEmail | None = UNSET
    phone: AuthProviderPhone | None = UNSET
    auth0: AuthProviderAuth0 | None = UNSET
    oidc: AuthProviderOidc | None = UNSET


@strawberry.type(name="SigninPayload")
class SigninPayload:
    token: str | None
    refreshToken: str | None  # noqa: N815 - Graphcool's name
    user: User | None


@strawberry.type(name="tfa_secret")
class TfaSecret:
    secret: str
    otpauth_url: str


@strawberry.type(name="Session")
class Session(Node):
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime
    user_agent: str | None
    ip: str | None
    current: bool

    @classmethod
    def from_model(cls, session: SessionModel, current_id: str | None) -> Session:
        return cls(
            id=to_global_id("Session", str(session.id)),
            created_at=session.created_at,
            last_used_at=session.last_used_at,
            expires_at=session.expires_at,
            user_agent=session.user_agent,
            ip=session.ip,
            current=str(session.id) == current_id,
        )


@strawberry.type(name="ApiToken")
class ApiTokenInfo(Node):
    name: str
    role: Role
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None

    @classmethod
    def from_model(cls, token: ApiTokenModel) -> ApiTokenInfo:
        return cls(
            id=to_global_id("ApiToken", str(token.id)),
            name=token.name,
            role=Role(token.role),
            created_at=token.created_at,
            last_used_at=token.last_used_at,
            expires_at=token.expires_at,
        )


@strawberry.type(name="api_token_secret", description="Shown once: only a hash of the token is kept.")
class ApiTokenSecret:
    id: strawberry.ID
    token: str


@strawberry.type(name="AuditEvent")
class AuditEvent:
    id: strawberry.ID
    created_at: datetime
    action: str
    user_id: strawberry.ID | None
    actor_id: strawberry.ID | None
    email: str | None
    ip: str | None
    user_agent: str | None
    detail: JSON | None

    @classmethod
    def from_model(cls, event: AuditEventModel) -> AuditEvent:
        return cls(
            id=strawberry.ID(str(event.id)),
            created_at=event.created_at,
            action=event.action,
            user_id=to_global_id("User", str(event.user_id)) if event.user_id else None,
            actor_id=to_global_id("User", str(event.actor_id)) if event.actor_id else None,
            email=event.email,
            ip=event.ip,
            user_agent=event.user_agent,
            detail=event.detail,  # type: ignore[arg-type]  # JSON is a NewType over object
        )


@strawberry.input(name="users_filter")
class UsersFilter:
    email: str | None = UNSET
    role: Role | None = UNSET
    status: Status | None = UNSET


@strawberry.type(name="Identity", description="A social sign-in linked to the account.")
class Identity:
    provider: str
    subject: str
    email: str | None
    created_at: datetime

    @classmethod
    def from_model(cls, identity: IdentityModel) -> Identity:
        return cls(
            provider=identity.provider, subject=identity.subject, email=identity.email, created_at=identity.created_at
        )


@strawberry.type(name="AuthProvider", description="A configured social sign-in provider.")
class AuthProvider:
    name: str
    driver: str
    icon: str | None
    label: str | None
    disableDefault: bool  # noqa: N815 - Directus's name: email/password sign-in is off


@strawberry.type(name="Passkey", description="A WebAuthn credential that signs in to the account.")
class Passkey(Node):
    name: str
    transports: list[str]
    created_at: datetime
    last_used_at: datetime | None

    @classmethod
    def from_model(cls, passkey: PasskeyModel) -> Passkey:
        return cls(
            id=to_global_id("Passkey", str(passkey.id)),
            name=passkey.name,
            transports=passkey.transport_list,
            created_at=passkey.created_at,
            last_used_at=passkey.last_used_at,
        )
