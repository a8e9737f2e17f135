"""Accounts: sign-up (Graphcool createUser, Directus users_register), verification,
password reset and the first admin."""

from __future__ import annotations

import logging

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.auth.identifiers import normalize_email
from app.auth.links import LinkTarget, allowed_target, build_link, server_page
from app.auth.passwords import Passwords
from app.auth.phones import normalize_phone
from app.config import Settings
from app.errors import Forbidden, InvalidPayload, RecordNotUnique
from app.mail import Mail, Mailer, MailQueue
from app.models import Purpose, Role, Status, User
from app.services import audit, one_time
from app.services.phone import PhoneService
from app.services.sessions import SessionService
from app.services.timing import stall

log = logging.getLogger("app.users")

MAX_NAME_LENGTH = 100


class UserService:
    def __init__(
        self,
        settings: Settings,
        passwords: Passwords,
        mailer: Mailer,
        mail: MailQueue,
        sessions: SessionService,
        phones: PhoneService,
    ) -> None:
        self.settings = settings
        self.passwords = passwords
        self.mailer = mailer  # mail whose failure the caller must hear of (verification)
        self.mail = mail  # mail sent after answering (enumeration-safe paths)
        self.sessions = sessions
        self.phones = phones

    async def create_with_password(
        self,
        email: str,
        password: str,
        *,
        name: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        role: Role | None = None,
        verification_url: str | None = None,
    ) -> User:
        """The explicit sign-up (createUser): a taken email is RECORD_NOT_UNIQUE."""
        address = normalize_email(email)
        target = self._verification_target(verification_url)
        await self.passwords.check_new(password, address, (name, first_name, last_name))
        return await self._create(
            address, password, target, name=name, first_name=first_name, last_name=last_name, role=role
        )

    async def _create(
        self,
        address: str,
        password: str,
        verification_target: LinkTarget,
        *,
        name: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        role: Role | None = None,
    ) -> User:
        """Hash and insert; the address and the password have been checked."""
        password_hash = await self.passwords.hash(password)
        verify = self.settings.email_verification
        try:
            async with in_transaction():
                user = await User.create(
                    email=address,
                    password_hash=password_hash,
                    name=clean_name(name),
                    first_name=clean_name(first_name),
                    last_name=clean_name(last_name),
                    role=role or Role(self.settings.default_role),
                    status=Status.unverified if verify else Status.active,
                )
                if verify:
                    # Inside the transaction: if the mail cannot go out, no account is left
                    # behind that its owner could never verify.
                    await self._send_verification(user, verification_target)
        except IntegrityError:
            raise RecordNotUnique('Value for field "email" in collection "users" has to be unique.') from None
        return user

    async def create_with_phone(self, phone: str, code: str, *, name: str | None = None) -> User:
        """Graphcool's phone sign-up: the texted code proves the number."""
        number = normalize_phone(phone)
        if await User.filter(phone=number).exists():
            raise RecordNotUnique('Value for field "phone" in collection "users" has to be unique.')
        await self.phones.verify(number, code)
        try:
            user = await User.create(phone=number, name=clean_name(name), role=Role(self.settings.default_role))
        except IntegrityError:
            raise RecordNotUnique('Value for field "phone" in collection "users" has to be unique.') from None
        await audit.record("user.created", user_id=user.id, role=str(user.role), provider="phone")
        return user

    async def register(
        self,
        email: str,
        password: str,
        first_name: str | None,
        last_name: str | None,
        verification_url: str | None,
    ) -> None:
        """Directus users_register: the same answer whether or not the email is taken."""
        if not self.settings.public_registration:
            raise Forbidden()
        address = normalize_email(email)
        target = self._verification_target(verification_url)
        # Before looking the email up: a taken address gets the same refusals as a free one.
        await self.passwords.check_new(password, address, (first_name, last_name))
        async with stall(self.settings.login_stall_time):
            if await User.by_email(address) is not None:
                await self.passwords.dummy_verify(password)  # same cost as the hash below
                self.mail.send_soon(Mail(address, "Sign-up attempt", _taken_text(self.settings.public_url)))
                return
            try:
                await self._create(address, password, target, first_name=first_name, last_name=last_name)
            except RecordNotUnique:
                return  # a concurrent sign-up won; answer as for any taken email

    async def verify_email(self, token: str) -> None:
        async with in_transaction():
            user = await one_time.consume(token, Purpose.email_verification)
            user.email_verified = True
            fields = ["email_verified"]
            if user.status == Status.unverified:
                user.status = Status.active
                fields.append("status")
            await user.save(update_fields=fields)

    async def request_password_reset(self, email: str, reset_url: str | None) -> None:
        """Always succeeds from the caller's view; only an existing active user gets mail."""
        try:
            address = normalize_email(email)
        except InvalidPayload:
            raise InvalidPayload("Invalid email address.") from None
        target = self._target(reset_url, self.settings.password_reset_url_allow_list, "/auth/pages/reset-password")
        async with stall(self.settings.login_stall_time):
            user = await User.by_email(address)
            if user is None or user.status == Status.suspended:
                return
            token = await one_time.issue(user, Purpose.password_reset, self.settings.password_reset_token_ttl)
            # Sent after the answer: neither SMTP's latency nor a failure (which discards the
            # token) may tell which emails exist.
            text = _reset_text(build_link(target, token=token))
            self.mail.send_soon(Mail(address, "Reset your password", text), on_failure=lambda: one_time.discard(token))

    async def reset_password(self, token: str, password: str) -> None:
        self.passwords.check_shape(password)
        owner = await one_time.peek(token, Purpose.password_reset)
        await self.passwords.check_new(password, owner.email, owner.personal_details)
        password_hash = await self.passwords.hash(password)
        async with in_transaction():
            user = await one_time.consume(token, Purpose.password_reset)
            user.password_hash = password_hash
            fields = ["password_hash"]
            if user.status == Status.unverified:
                # Receiving the reset mail proves the address.
                user.status, user.email_verified = Status.active, True
                fields += ["status", "email_verified"]
            await user.save(update_fields=fields)
            await self.sessions.revoke_all(str(user.id))
        await audit.record("password.reset", user_id=user.id)

    async def ensure_admin(self, email: str, password: str) -> User | None:
        """Create the first admin unless one exists; returns the new admin."""
        if await User.filter(role=Role.admin).exists():
            return None
        return await self.create_with_password(email, password, role=Role.admin, verification_url=None)

    async def request_verification(self, user: User, verification_url: str | None) -> None:
        """Mail a verification link for the current address of a signed-in user."""
        if user.email is None:
            raise InvalidPayload("The account has no email address.")
        if user.email_verified:
            raise InvalidPayload("The email address is already verified.")
        await self._send_verification(user, self._verification_target(verification_url))

    async def _send_verification(self, user: User, target: LinkTarget) -> None:
        token = await one_time.issue(user, Purpose.email_verification, self.settings.verification_token_ttl)
        link = build_link(target, token=token)
        await self.mailer.send(Mail(str(user.email), "Verify your email address", _verify_text(link)))

    def _verification_target(self, url: str | None) -> LinkTarget:
        return self._target(url, self.settings.user_register_url_allow_list, "/auth/pages/verify-email")

    def _target(self, url: str | None, allow_list: tuple[str, ...], default_path: str) -> LinkTarget:
        if url:
            return allowed_target(url, allow_list, self.settings.public_url)
        return server_page(self.settings.public_url, default_path)


def clean_name(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidPayload(f"Names must be at most {MAX_NAME_LENGTH} characters.")
    return value or None


def _reset_text(link: str) -> str:
    return (
        "Someone asked to reset the password of your account.\n\n"
        f"To choose a new password, open:\n{link}\n\n"
        "The link works once and expires soon. If it was not you, ignore this mail."
    )


def _verify_text(link: str) -> str:
    return f"Welcome! Confirm your email address by opening:\n{link}\n\nThe link works once."


def _taken_text(public_url: str) -> str:
    return (
        "Someone tried to sign up with this email address, which already has an account.\n\n"
        f"If it was you, sign in or reset your password at {public_url}."
    )
