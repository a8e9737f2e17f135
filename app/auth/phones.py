"""Phone numbers, validated and normalised to E.164 with `phonenumbers`."""

from __future__ import annotations

import phonenumbers

from app.errors import InvalidPayload


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
