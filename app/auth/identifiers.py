"""Normalising and validating what users type: emails and URLs."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

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


def check_allowed_url(url: str, allow_list: tuple[str, ...], public_url: str) -> str:
    """A link target must be an http(s) URL on the allow list (or on this server)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2048:
        raise InvalidPayload("Invalid URL.")
    allowed = (*allow_list, public_url)
    if not any(_same_target(url, candidate) for candidate in allowed):
        raise InvalidPayload("URL is not allowed.")
    return url


def _same_target(url: str, allowed: str) -> bool:
    # Compare scheme, host and path exactly (query ignored): a prefix test would let
    # https://app.example.com.evil.test through for https://app.example.com.
    a, b = urlsplit(url), urlsplit(allowed)
    if (a.scheme, a.netloc.lower()) != (b.scheme, b.netloc.lower()):
        return False
    allowed_path = b.path or "/"
    return (a.path or "/") == allowed_path or (allowed_path.endswith("/") and (a.path or "/").startswith(allowed_path))
