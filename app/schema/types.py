"""Strawberry types, and the only place model instances become GraphQL objects."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from enum import Enum
from typing import NewType

import strawberry
from strawberry import UNSET
from strawberry.permission import BasePermission
from strawberry.types.scalar import ScalarDefinition

from app.errors import InvalidPayload
from app.models import User as UserModel
from app.schema.permissions import IsOwnerOrAdmin

GraphQLBigInt = NewType("GraphQLBigInt", int)

SCALARS: dict[object, ScalarDefinition] = {
    GraphQLBigInt: strawberry.scalar(
        name="GraphQLBigInt",
        description="An integer sent as a digit string, as Directus does.",
        serialize=lambda value: str(value),
        parse_value=lambda value: int(value),
    )
}


@strawberry.enum(name="auth_mode")
class AuthMode(Enum):
    json = "json"
    cookie = "cookie"
    session = "session"


@strawberry.enum(name="user_role")
class UserRole(Enum):
    admin = "admin"
    user = "user"
    guest = "guest"


@strawberry.enum(name="user_status")
class UserStatus(Enum):
    active = "active"
    unverified = "unverified"
    suspended = "suspended"
    invited = "invited"


@strawberry.type(name="auth_tokens")
class AuthTokens:
    access_token: str | None
    expires: GraphQLBigInt | None
    refresh_token: str | None


def to_global_id(type_name: str, raw_id: str) -> strawberry.ID:
    return strawberry.ID(base64.b64encode(f"{type_name}:{raw_id}".encode()).decode())


def from_global_id(global_id: str) -> tuple[str, str]:
    try:
        type_name, _, raw_id = base64.b64decode(global_id, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidPayload("Invalid global id.") from None
    if not type_name or not raw_id:
        raise InvalidPayload("Invalid global id.")
    return type_name, raw_id


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
    role: UserRole | None = strawberry.field(permission_classes=_owner)
    status: UserStatus | None = strawberry.field(permission_classes=_owner)
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
            role=UserRole(str(user.role)),
            status=UserStatus(str(user.status)),
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
