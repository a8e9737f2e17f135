"""TOTP (RFC 6238, 30 s, 6 digits) with pyotp and replay protection. Seeds are the one
secret we must read back, so they are sealed with `SecretBox`, not hashed."""

from __future__ import annotations

import hmac
import re
import secrets
import time

import pyotp

from app.auth.secrets import hash_token

STEP = 30
_SECRET = re.compile(r"^[A-Z2-7]{16,64}$")
_CODE = re.compile(r"^\d{6}$")
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


def new_secret() -> str:
    return pyotp.random_base32()


def is_valid_secret(secret: str) -> bool:
    return bool(_SECRET.match(secret))


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def matching_step(secret: str, code: str, after_step: int | None, now: float | None = None) -> int | None:
    """The time step whose code matches (one step of clock drift either way), provided it
    is later than `after_step`, the last one accepted; else None."""
    code = code.strip().replace(" ", "")
    if not _CODE.match(code):
        return None
    totp = pyotp.TOTP(secret)
    current = int((now if now is not None else time.time()) // STEP)
    for step in (current - 1, current, current + 1):
        if (after_step is None or step > after_step) and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Ten codes like `k3f9-2jd8-x0qa`: 60 bits each, typed by hand in an emergency."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(12))
        codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:12]}")
    return codes


def recovery_code_hash(code: str) -> str:
    return hash_token(code.strip().lower())
