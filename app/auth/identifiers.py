"""Normalising and validating what users type: emails (URLs: app.auth.links)."""

from __future__ import annotations

import re
import unicodedata

from app.errors import InvalidPayload

MAX_EMAIL_LENGTH = 254
# Deliberately loose: one @, no spaces, a dot in the domain. Deliverability is proven by
# the verification mail, not by a regex.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def normalize_email(email: str) -> str:
    """NFC, trimmed, lower-cased: `Ana@Example.COM ` and `ana@example.com` are one account."""
    value = unicodedata.normalize("NFC", email).strip().lower()
    if not value or len(value) > MAX_EMAIL_LENGTH or not _EMAIL.match(value):
        raise InvalidPayload("Invalid email address.")
    if any(unicodedata.category(ch).startswith("C") for ch in value):
        raise InvalidPayload("Invalid email address.")
    return value
