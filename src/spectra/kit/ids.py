"""Identifiers: time-ordered UUIDv7 and the prefixes that make secrets recognisable."""

from __future__ import annotations

import os
import time
import uuid

MEMBER_KEY_PREFIX = "sk-spectra-"
ADMIN_TOKEN_PREFIX = "st-spectra-"
REDEEM_CODE_PREFIX = "SPC-"

_last_ms = 0
_seq = 0


def uuid7() -> uuid.UUID:
    """Return a UUIDv7 (RFC 9562): 48-bit millisecond time, then randomness; sortable by time.

    Within one millisecond a 12-bit counter keeps ids from one process increasing.
    """
    global _last_ms, _seq
    ms = time.time_ns() // 1_000_000
    if ms <= _last_ms:
        ms = _last_ms
        _seq = (_seq + 1) & 0xFFF
        if _seq == 0:
            ms += 1
    else:
        _seq = int.from_bytes(os.urandom(2), "big") & 0x3FF
    _last_ms = ms
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= _seq << 64
    value |= 0b10 << 62
    value |= rand
    return uuid.UUID(int=value)


def short_id(value: uuid.UUID) -> str:
    """A short display form of an id (first 8 hex digits)."""
    return value.hex[:8]
