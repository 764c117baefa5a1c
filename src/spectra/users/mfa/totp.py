"""TOTP seeds and codes, recovery codes, and the enrolment QR code. Pure helpers; the rows live
in the service."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import pyotp
import segno

from spectra.kit.crypto import constant_time_equal

ISSUER = "Spectra"
STEP = timedelta(seconds=30)
DRIFT_STEPS = 1
"""A code of the step before or after now is accepted too (clock drift, a slow typist)."""
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def new_seed() -> str:
    """160 random bits, base32 (what authenticator apps expect)."""
    return pyotp.random_base32(32)


def provisioning_uri(seed: str, *, email: str) -> str:
    return pyotp.TOTP(seed).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The otpauth:// URI as an inline SVG QR code (rendered server-side: no script, no CDN)."""
    return str(segno.make(uri, error="m").svg_inline(scale=5, dark="#111", light="#fff"))


def matching_step(seed: str, code: str, *, now: datetime) -> int | None:
    """The time step whose code equals `code` within the allowed drift, or None."""
    candidate = "".join(code.split())
    if not (candidate.isascii() and candidate.isdigit() and len(candidate) == 6):
        return None
    totp = pyotp.TOTP(seed)
    found: int | None = None
    for offset in range(-DRIFT_STEPS, DRIFT_STEPS + 1):
        moment = now + offset * STEP
        if constant_time_equal(totp.at(moment), candidate):
            found = totp.timecode(moment)
    return found


def looks_like_totp(code: str) -> bool:
    candidate = "".join(code.split())
    return candidate.isascii() and candidate.isdigit() and len(candidate) == 6


def new_recovery_codes() -> list[str]:
    """Ten codes like `k7pq2-mx9ta` (50 random bits each), shown once."""
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def normalise_recovery_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())
