"""The new sign-in notice (EMAIL_NEW_SIGN_IN_NOTICE): the owner hears of a sign-in from a
browser that holds no device cookie for the account (app/auth/devices.py), so a stolen
password used elsewhere does not go unseen."""

from __future__ import annotations

from app.auth.devices import DeviceCookies
from app.config import Settings
from app.mail_templates import MailTemplates
from app.models import User
from app.services.client import ClientInfo, now
from app.services.postbox import MailPurpose, Postbox


class SignInNotices:
    def __init__(self, settings: Settings, devices: DeviceCookies, post: Postbox, templates: MailTemplates) -> None:
        self.settings = settings
        self.devices = devices
        self.post = post
        self.templates = templates

    def after_sign_in(self, user: User, client: ClientInfo, *, first: bool) -> None:
        """Queued, never awaited: the sign-in neither waits for the mail nor fails with it.
        Not for an account's first sign-in (every browser is new then)."""
        if not self.settings.email_new_sign_in_notice or first or not user.email:
            return
        if self.devices.nonce_for(client.device, user.id) is not None:
            return
        # Nothing from the request (not the user agent): the time is ours, the link our own.
        when = now().strftime("%Y-%m-%d %H:%M UTC")
        mail = self.templates.render("new_sign_in", user.email, link=self.settings.public_url, signed_in_at=when)
        self.post.send_soon(mail, MailPurpose.new_sign_in)
