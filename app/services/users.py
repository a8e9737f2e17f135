"""Accounts: sign-up (Graphcool createUser, Directus users_register), verification,
password reset and the first admin."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError

from app.auth.identifiers import normalize_email, normalize_phone
from app.auth.links import LinkTarget, build_link, link_target
from app.auth.passwords import Passwords
from app.config import Settings
from app.errors import Forbidden, InvalidPayload, RecordNotUnique
from app.mail import Mail
from app.mail_templates import MailTemplates
from app.models import Purpose, Role, Status, User
from app.services import audit, one_time, revocations
from app.services.api_tokens import ApiTokenService
from app.services.phone_codes import PhoneCodes
from app.services.postbox import MailPurpose, Postbox
from app.services.reclaim import hand_over
from app.services.revocations import in_transaction
from app.services.sessions import SessionService
from app.services.timing import stall

log = logging.getLogger("app.users")

MAX_NAME_LENGTH = 100


class UserService:
    def __init__(
        self,
        settings: Settings,
        passwords: Passwords,
        post: Postbox,
        templates: MailTemplates,
        sessions: SessionService,
        phone_codes: PhoneCodes,
    ) -> None:
        self.settings = settings
        self.passwords = passwords
        # `send` when the caller must hear of a failure (verification), `send_soon` after
        # answering (enumeration-safe paths).
        self.post = post
        self.templates = templates
        self.sessions = sessions
        self.phone_codes = phone_codes

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
        vouched: bool = False,
    ) -> User:
        """The explicit sign-up (createUser): a taken email is RECORD_NOT_UNIQUE. A `vouched`
        account (the operator's first admin) is active and verified at once, with no mail."""
        address = normalize_email(email)
        names = Names.of(name, first_name, last_name)
        target = self._verification_target(verification_url)
        await self.passwords.check_new(password, address, (name, first_name, last_name))
        password_hash = await self.passwords.hash(password)
        try:
            async with in_transaction():
                user = await self._insert(address, password_hash, names, role, verified=vouched)
                if self.settings.email_verification and not vouched:
                    # Awaited inside the transaction: createUser may say SERVICE_UNAVAILABLE
                    # or REQUESTS_EXCEEDED (it tells whether an email is taken anyway), and then
                    # no account is left behind that its owner could never verify.
                    await self.post.send(await self._verification_mail(user, target), MailPurpose.verification)
        except IntegrityError:
            raise RecordNotUnique('Value for field "email" in collection "users" has to be unique.') from None
        return user

    async def create_with_phone(self, phone: str, code: str, *, name: str | None = None) -> User:
        """Graphcool's phone sign-up: the texted code proves the number."""
        number = normalize_phone(phone)
        if await User.by_phone(number) is not None:
            raise RecordNotUnique('Value for field "phone" in collection "users" has to be unique.')
        await self.phone_codes.verify(number, code)
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
        """Directus users_register: the same answer, in about the same time, whether or not
        the email is taken, and whether or not the mail server is slow or down."""
        if not self.settings.public_registration:
            raise Forbidden()
        address = normalize_email(email)
        # Before looking the email up: a taken address gets the same refusals as a free one.
        names = Names.of(None, first_name, last_name)
        target = self._verification_target(verification_url)
        await self.passwords.check_new(password, address, (first_name, last_name))
        async with stall(self.settings.login_stall_time):
            if await User.by_email(address) is not None:
                await self.passwords.dummy_verify(password)  # same cost as the hash below
                # Nothing from the request goes in (not the names): the link is our own page.
                taken = self.templates.render("account_exists", address, link=self.settings.public_url)
                self.post.send_soon(taken, MailPurpose.sign_up_taken)
                return
            password_hash = await self.passwords.hash(password)
            try:
                async with in_transaction():
                    user = await self._insert(address, password_hash, names, None, verified=False)
                    mail = await self._verification_mail(user, target) if self.settings.email_verification else None
            except IntegrityError:
                return  # a concurrent sign-up won; answer as for any taken email
            if mail is not None:
                # Sent after the answer (SMTP's latency or failure would tell a new address
                # from a taken one). If it cannot be sent, the unverified account is removed,
                # so the owner's retry signs up afresh instead of meeting "taken" with no link
                # ever delivered. Until then a retry gets the "taken" mail, whose reset link
                # also proves the address. A spent mail budget counts as a failure.
                self.post.send_soon(mail, MailPurpose.verification, on_failure=lambda: _forget_unverified(user))

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
            link = build_link(target, token=token)
            mail = self.templates.render(
                "password_reset", address, link=link, expires_in=self.settings.password_reset_token_ttl
            )
            self.post.send_soon(mail, MailPurpose.password_reset, on_failure=lambda: one_time.discard(token))

    async def reset_password(self, token: str, password: str) -> None:
        """Account recovery (the owner fears someone else is in): besides the password, every
        session, every API token and every other emailed token of the account go."""
        password_hash = await one_time.new_password_hash(self.passwords, token, Purpose.password_reset, password)
        async with in_transaction():
            user = await one_time.consume(token, Purpose.password_reset)
            if not user.email_verified:
                # The reset mail proves the address for the first time: drop what the
                # unproven holder set up (phone, identities).
                await hand_over(user, self.sessions, keep_password=True)
            user.password_hash = password_hash
            fields = ["password_hash"]
            if user.status in (Status.unverified, Status.invited):
                # The invitation it voids below would have set the password the same way.
                user.status = Status.active
                fields.append("status")
            if not user.email_verified:
                user.email_verified = True  # receiving the reset mail proves the address
                fields.append("email_verified")
            await user.save(update_fields=fields)
            await one_time.void_outstanding(user.id)
            await self.sessions.revoke_all(str(user.id))
            await ApiTokenService.revoke_all(user.id)
        await audit.record("password.reset", user_id=user.id)

    async def ensure_admin(self, email: str, password: str) -> User | None:
        """Create the first admin unless one exists; returns the new admin. The operator
        vouches for its address: it is active and verified from the start (with
        EMAIL_VERIFICATION=true it could not sign in otherwise, and no mail is sent)."""
        if await User.filter(role=Role.admin).exists():
            return None
        return await self.create_with_password(email, password, role=Role.admin, vouched=True)

    async def request_verification(self, user: User, verification_url: str | None) -> None:
        """Mail a verification link for the current address of a signed-in user; the
        address's mail budget spent is REQUESTS_EXCEEDED."""
        if user.email is None:
            raise InvalidPayload("The account has no email address.")
        if user.email_verified:
            raise InvalidPayload("The email address is already verified.")
        mail = await self._verification_mail(user, self._verification_target(verification_url))
        await self.post.send(mail, MailPurpose.verification)

    async def _insert(
        self, address: str, password_hash: str, names: Names, role: Role | None, *, verified: bool
    ) -> User:
        pending = self.settings.email_verification and not verified
        return await User.create(
            email_verified=verified,
            email=address,
            password_hash=password_hash,
            name=names.name,
            first_name=names.first_name,
            last_name=names.last_name,
            role=role or Role(self.settings.default_role),
            status=Status.unverified if pending else Status.active,
        )

    async def _verification_mail(self, user: User, target: LinkTarget) -> Mail:
        token = await one_time.issue(user, Purpose.email_verification, self.settings.verification_token_ttl)
        link = build_link(target, token=token)
        return self.templates.render(
            "email_verification", str(user.email), link=link, expires_in=self.settings.verification_token_ttl
        )

    def _verification_target(self, url: str | None) -> LinkTarget:
        return self._target(url, self.settings.user_register_url_allow_list, "/auth/pages/verify-email")

    def _target(self, url: str | None, allow_list: tuple[str, ...], default_path: str) -> LinkTarget:
        return link_target(url, allow_list, self.settings.public_url, default_path)


@dataclass(frozen=True)
class Names:
    name: str | None
    first_name: str | None
    last_name: str | None

    @classmethod
    def of(cls, name: str | None, first_name: str | None, last_name: str | None) -> Names:
        return cls(clean_name(name), clean_name(first_name), clean_name(last_name))


async def _forget_unverified(user: User) -> None:
    # Only while nothing proved the address meanwhile (a reset or magic link activates it).
    await User.filter(id=user.id, status=Status.unverified, email_verified=False).delete()
    await revocations.forget_user(user.id)


def clean_name(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidPayload(f"Names must be at most {MAX_NAME_LENGTH} characters.")
    return value or None
