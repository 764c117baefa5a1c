"""The one source of "now". Tests freeze or advance it; nothing else calls datetime.now()."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

_frozen: datetime | None = None


def utc_now() -> datetime:
    """Return the current time, timezone-aware in UTC (or the frozen test time)."""
    if _frozen is not None:
        return _frozen
    return datetime.now(UTC)


def monotonic() -> float:
    """Seconds on a monotonic clock, for timeouts and rates (follows a frozen clock)."""
    if _frozen is not None:
        return _frozen.timestamp()
    return time.monotonic()


def freeze(at: datetime) -> None:
    """Freeze the clock at `at` (tests, and `spectra demo` replaying its history)."""
    global _frozen
    if at.tzinfo is None:
        raise ValueError("freeze() needs a timezone-aware datetime")
    _frozen = at.astimezone(UTC)


def advance(delta: timedelta) -> datetime:
    """Move a frozen clock forward by `delta` (tests only)."""
    global _frozen
    if _frozen is None:
        raise RuntimeError("advance() needs a frozen clock")
    _frozen = _frozen + delta
    return _frozen


def unfreeze() -> None:
    global _frozen
    _frozen = None


def is_frozen() -> bool:
    return _frozen is not None
