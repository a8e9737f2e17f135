"""Every mail the app sends leaves through the Postbox, which holds each recipient address
to a budget per purpose (MAILS_PER_ADDRESS per MAIL_WINDOW, app/services/budgets.py): the
server cannot be used to flood an inbox, whatever the requests, aliases or IPs."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum

from app.errors import RequestsExceeded
from app.mail import Mail, Mailer, MailQueue, recipient_domain
from app.services.budgets import Budgets

log = logging.getLogger("app.mail")


class MailPurpose(StrEnum):
    verification = "verification"
    password_reset = "password_reset"
    magic_link = "magic_link"
    sign_up_taken = "sign_up_taken"
    invite = "invite"
    new_sign_in = "new_sign_in"


class Postbox:
    def __init__(self, mailer: Mailer, queue: MailQueue, budgets: Budgets) -> None:
        self.mailer = mailer
        self.queue = queue
        self.budgets = budgets

    async def send(self, mail: Mail, purpose: MailPurpose) -> None:
        """Now, for a caller allowed to hear the outcome: REQUESTS_EXCEEDED when the address's
        budget for `purpose` is spent, SERVICE_UNAVAILABLE when the transport fails."""
        await self.budgets.take_mail(mail.to, purpose)
        await self.mailer.send(mail)

    def send_soon(
        self, mail: Mail, purpose: MailPurpose, on_failure: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        """After the answer, for requests whose answer must not tell whether an account exists:
        a spent budget drops the mail silently, as a failed send would (`on_failure` runs).
        The budget is drawn in the background, so the answer and its timing stay as they are."""

        async def allowed() -> bool:
            try:
                await self.budgets.take_mail(mail.to, purpose)
            except RequestsExceeded:
                log.warning("mail to %s dropped: its %s budget is spent", recipient_domain(mail.to), purpose.value)
                return False
            return True

        self.queue.send_soon(mail, on_failure, allowed)
