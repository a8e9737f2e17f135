"""Every mail is written from a pair of Jinja2 templates, `<kind>.html` and `<kind>.txt`.

The built-ins live in `app/templates/mail/`; a file of the same name in `EMAIL_TEMPLATES_PATH`
replaces one of them (the others still come from the built-ins, and an override may extend
`base.html` / `base.txt`). The first line the `.txt` template writes is the subject, the rest
the text part; the HTML gets the subject as `subject`.

Templates get `product` (MFA_ISSUER), `public_url` (PUBLIC_URL), `link` (the mail's one
action) and `expires_in` (`15 minutes`, `1 day`; none for the notices); `new_sign_in` also
gets `signed_in_at` (`2026-01-01 12:00 UTC`). HTML is
autoescaped; the text part is not HTML, so it is not escaped, and that is safe only because
nothing in it comes from the request: the link is built by `app/auth/links.py` from an
allow-listed, re-encoded URL, and the rest are settings.

With EMAIL_TEMPLATES_PATH, every template is rendered once at start-up, so a broken override
stops the server instead of failing later, unseen, in the mail queue. Without it Jinja2 is
loaded with the first mail: the built-ins are rendered by the tests, and a server that sends
no mail keeps the memory.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from app.config import ConfigError, Settings
from app.mail import Mail

if TYPE_CHECKING:
    from jinja2 import Environment

BUILT_IN = Path(__file__).resolve().parent / "templates" / "mail"

# The mails we send (each has `<kind>.html` and `<kind>.txt`), with sample values of the
# variables only that kind gets, for the start-up check.
KINDS: dict[str, dict[str, str]] = {
    "password_reset": {},
    "email_verification": {},
    "magic_link": {},
    "invite": {},
    "account_exists": {},
    "new_sign_in": {"signed_in_at": "2026-01-01 12:00 UTC"},
}


class MailTemplates:
    def __init__(self, settings: Settings) -> None:
        self.folders = [settings.email_templates_path] if settings.email_templates_path else []
        self.common = {"product": settings.mfa_issuer, "public_url": settings.public_url}
        if self.folders:
            self._check(settings.public_url)

    @cached_property
    def environment(self) -> Environment:
        from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

        return Environment(
            loader=ChoiceLoader([FileSystemLoader(folder) for folder in [*self.folders, BUILT_IN]]),
            # HTML escaped; `.txt` not (it is not HTML, and gets nothing from the request).
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,  # a misspelt variable in an override fails at start-up
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, kind: str, to: str, *, link: str, expires_in: float | None = None, **values: str) -> Mail:
        """The mail of `kind` to `to`: `link` is its one action, `expires_in` (seconds) its
        lifetime; `values` are what only this kind gets (never text from the request)."""
        expiry = in_words(expires_in) if expires_in else None
        context = {**self.common, **values, "link": link, "expires_in": expiry}
        first, _, text = self.environment.get_template(f"{kind}.txt").render(context).partition("\n")
        # One line whatever the template wrote: the Subject header gets no line break.
        subject = " ".join(first.split())
        html = self.environment.get_template(f"{kind}.html").render(context, subject=subject)
        return Mail(to, subject, text.strip() + "\n", html)

    def _check(self, public_url: str) -> None:
        from jinja2 import TemplateError

        for kind, values in KINDS.items():
            try:
                link = f"{public_url}/?token=check"
                mail = self.render(kind, "check@example.com", link=link, expires_in=3600, **values)
            except TemplateError as exc:
                raise ConfigError(f"EMAIL_TEMPLATES_PATH: the {kind} mail: {type(exc).__name__}: {exc}") from None
            if not mail.subject:
                reason = f"the first line of {kind}.txt (the subject) is empty"
                raise ConfigError(f"EMAIL_TEMPLATES_PATH: the {kind} mail: {reason}")


_UNITS = ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second"))


def in_words(seconds: float) -> str:
    """`15 minutes`, `1 hour`, `7 days`: the largest unit that writes it exactly."""
    whole = max(1, round(seconds))
    size, unit = next((size, unit) for size, unit in _UNITS if whole % size == 0)
    count = whole // size
    return f"{count} {unit}{'' if count == 1 else 's'}"
