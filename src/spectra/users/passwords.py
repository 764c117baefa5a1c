"""Password hashing (argon2id) and the password rule. Pure: no session."""

from __future__ import annotations

from collections.abc import Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from .errors import WeakPasswordError

MIN_LENGTH = 12
MAX_LENGTH = 256
"""Long enough for passphrases, short enough that hashing cannot be used to burn CPU."""
MIN_SCORE = 3
"""zxcvbn's 0-4 scale; 3 is "safely unguessable" (about 10^8 guesses or more)."""

_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory profile
_dummy_hash: str | None = None
"""A hash to verify against when the user has none (made on first need: hashing costs ~0.1 s,
which every `spectra` command would otherwise pay at import)."""


def use_hasher(hasher: PasswordHasher) -> PasswordHasher:
    """Swap the argon2id parameters (tests use a cheap profile); returns the previous hasher."""
    global _hasher, _dummy_hash
    previous = _hasher
    _hasher = hasher
    _dummy_hash = None
    return previous


def _dummy() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("spectra-timing-equaliser")
    return _dummy_hash


def check_rule(password: str, *, user_inputs: Sequence[str] = ()) -> None:
    """Refuse a password that is too short, too long, blank, or easy to guess (zxcvbn's strength
    estimate, which also penalises the user's own email or name given in `user_inputs`)."""
    if len(password) < MIN_LENGTH:
        raise WeakPasswordError(
            f"A password needs at least {MIN_LENGTH} characters.", min_length=MIN_LENGTH
        )
    if len(password) > MAX_LENGTH:
        raise WeakPasswordError(
            f"A password may have at most {MAX_LENGTH} characters.", max_length=MAX_LENGTH
        )
    if not password.strip():
        raise WeakPasswordError("A password cannot be only spaces.")
    estimate = zxcvbn(password, user_inputs=[i for i in user_inputs if i])
    if estimate["score"] < MIN_SCORE:
        feedback = estimate["feedback"]
        sentences = [feedback.get("warning") or "", *feedback.get("suggestions", [])]
        advice = " ".join(s.strip() for s in sentences if s.strip())
        raise WeakPasswordError(
            "This password is too easy to guess." + (f" {advice}" if advice else ""),
            score=estimate["score"],
            min_score=MIN_SCORE,
            feedback=advice,
        )


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; an absent hash still costs one verification (no timing oracle)."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        if password_hash is None:
            _hasher.verify(_dummy(), password)
            return False
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
