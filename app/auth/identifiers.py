"""Normalising and validating what users type: emails and phone numbers (URLs: app.auth.links)."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

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


def normalize_phone(value: str) -> str:
    """`+1 (555) 010-0199` -> `+15550100199`. Numbers need their country code (+...)."""
    if not value or len(value) > 32:
        raise InvalidPayload("Invalid phone number.")
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise InvalidPayload("Invalid phone number.") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPayload("Invalid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
