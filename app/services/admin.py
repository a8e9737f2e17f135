"""Operator actions: list users, change role or status, invite."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from tortoise.exceptions import IntegrityError

from app.auth.identifiers import normalize_email
from app.auth.links import build_link, link_target
from app.auth.passwords import Passwords
from app.config import Settings
from app.errors import Forbidden, InvalidPayload, RecordNotUnique
from app.mail_templates import MailTemplates
from app.models import AuditEvent, Purpose, Role, Status, User
from app.services import audit, one_time
from app.services.api_tokens import ApiTokenService
from app.services.client import ClientInfo
from app.services.pagination import Page, keyset_page
from app.services.postbox import MailPurpose, Postbox
from app.services.revocations import in_transaction
from app.services.sessions import SessionService


@dataclass(frozen=True)
class UserFilter:
    email: str | None = None  # substring, case-insensitive
    role: Role | None = None
    status: Status | None = None


INVITE_PAGE = "/auth/pages/accept-invite"


class AdminService:
    def __init__(
        self,
        settings: Settings,
        passwords: Passwords,
        post: Postbox,
        templates: MailTemplates,
        sessions: SessionService,
    ) -> None:
        self.settings = settings
        self.passwords = passwords
        self.post = post
        self.templates = templates
        self.sessions = sessions

    async def users(self, first: int | None, after: str | None, where: UserFilter) -> Page[User]:
        query = User.all()
        if where.email:
            query = query.filter(email__icontains=where.email.strip().lower()[:254])
        if where.role:
            query = query.filter(role=where.role)
        if where.status:
            query = query.filter(status=where.status)
        return await keyset_page(query, first, after)

    async def audit_events(
        self, first: int | None, after: str | None, user_id: str | None, action: str | None
    ) -> Page[AuditEvent]:
        query = AuditEvent.all()
        if user_id:
            query = query.filter(user_id=user_id)
        if action:
            query = query.filter(action=action)
        return await keyset_page(query, first, after)

    async def update(
        self, actor: User, user_id: str, role: Role | None, status: Status | None, client: ClientInfo
    ) -> User:
        demoting = role is not None and role != Role.admin
        disabling = status is not None and status != Status.active
        async with in_transaction():
            active_admins: set[UUID] = set()
            if demoting or disabling:
                # Nobody, not even an admin acting on themself, removes the last way to
                # administer. The active admins' rows are locked before they are counted (in
                # id order, so two such updates cannot deadlock): two admins suspending each
                # other at once are serialised, and the second sees the first's change.
                # SQLite runs one writing transaction at a time anyway.
                locked = await User.filter(role=Role.admin, status=Status.active).order_by("id").select_for_update()
                active_admins = {admin.id for admin in locked}
            user = await one_time.lock_user(user_id)
            if user is None:
                raise Forbidden()
            if user.role == Role.admin and (demoting or disabling) and not active_admins - {user.id}:
                raise InvalidPayload("The last active admin cannot be demoted or disabled.")
            changes = {}
            if role is not None and role != user.role:
                changes["role"] = (str(user.role), role.value)
                user.role = role
            if status is not None and status != user.status:
                changes["status"] = (str(user.status), status.value)
                user.status = status
            await user.save(update_fields=list(changes) or None)
            if "status" in changes and user.status != Status.active:
                # Suspension takes effect at once and lasts: reactivating the account later
                # does not bring back the sessions or API tokens it had.
                await self.sessions.revoke_all(str(user.id))
                await ApiTokenService.revoke_all(user.id)
        for field, (old, new) in changes.items():
            await audit.record(f"{field}.changed", user_id=user.id, actor_id=actor.id, client=client, old=old, new=new)
        return user

    async def invite(
        self, actor: User, email: str, role: Role | None, invite_url: str | None, client: ClientInfo
    ) -> None:
        address = normalize_email(email)
        settings = self.settings
        target = link_target(invite_url, settings.user_invite_url_allow_list, settings.public_url, INVITE_PAGE)
        try:
            async with in_transaction():
                user = await User.create(
                    email=address, role=role or Role(self.settings.default_role), status=Status.invited
                )
                token = await one_time.issue(user, Purpose.invite, self.settings.invite_token_ttl)
                link = build_link(target, token=token)
                mail = self.templates.render("invite", address, link=link, expires_in=self.settings.invite_token_ttl)
                await self.post.send(mail, MailPurpose.invite)
        except IntegrityError:
            raise RecordNotUnique('Value for field "email" in collection "users" has to be unique.') from None
        await audit.record("user.invited", user_id=user.id, actor_id=actor.id, client=client, role=str(user.role))

    async def accept_invite(self, token: str, password: str, client: ClientInfo) -> None:
        password_hash = await one_time.new_password_hash(self.passwords, token, Purpose.invite, password)
        async with in_transaction():
            user = await one_time.consume(token, Purpose.invite)
            if user.status != Status.invited:
                raise InvalidPayload("This invitation was already accepted.")
            user.password_hash, user.status, user.email_verified = password_hash, Status.active, True
            await user.save(update_fields=["password_hash", "status", "email_verified"])
        await audit.record("user.invite_accepted", user_id=user.id, client=client)
