"""How long an upstream asks us to wait: `retry-after-ms`, `retry-after` (seconds or an HTTP
date), Anthropic's `anthropic-ratelimit-*-reset` times and OpenAI's `x-ratelimit-reset-*`
durations, read into seconds (a rate-limited account cools for that long)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime

from spectra.kit.clock import utc_now

_MAX_COOL_SECONDS = 24 * 3600.0


def parse_retry_after(headers: Iterable[tuple[str, str]]) -> float | None:
    """Seconds to wait, from `retry-after-ms`, `retry-after` (seconds or HTTP date), the
    Anthropic `anthropic-ratelimit-*-reset` times, or the OpenAI `x-ratelimit-reset-*`
    durations, in that order of preference. Clamped to [0, 24 h]; None when absent."""
    lower: dict[str, str] = {k.lower(): v for k, v in headers}
    value = _float(lower.get("retry-after-ms"))
    if value is not None:
        return _clamp(value / 1000.0)
    raw = lower.get("retry-after")
    if raw is not None:
        value = _float(raw)
        if value is not None:
            return _clamp(value)
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None and when.tzinfo is not None:
            return _clamp((when - utc_now()).total_seconds())
    value = _anthropic_reset(lower)
    if value is not None:
        return value
    resets = [_duration(v) for k, v in lower.items() if k.startswith("x-ratelimit-reset-")]
    known = [r for r in resets if r is not None]
    return _clamp(max(known)) if known else None


def _float(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _clamp(seconds: float) -> float:
    return min(max(seconds, 0.0), _MAX_COOL_SECONDS)


def _anthropic_reset(lower: Mapping[str, str]) -> float | None:
    """Prefer the reset of a limit whose remaining count is 0; else the soonest future one."""
    now = utc_now()
    exhausted: list[float] = []
    others: list[float] = []
    for key, raw in lower.items():
        if not (key.startswith("anthropic-ratelimit-") and key.endswith("-reset")):
            continue
        try:
            when = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        except ValueError:
            continue
        if when.tzinfo is None:
            continue
        seconds = (when - now).total_seconds()
        remaining = lower.get(key[: -len("-reset")] + "-remaining")
        (exhausted if remaining is not None and remaining.strip() == "0" else others).append(
            seconds
        )
    if exhausted:
        return _clamp(max(exhausted))
    future = [s for s in others if s > 0]
    return _clamp(min(future)) if future else None


_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def _duration(raw: str) -> float | None:
    """OpenAI's `6m0s`, `1.5s`, `20ms` reset durations, in seconds."""
    text = raw.strip()
    if not text:
        return None
    total = 0.0
    pos = 0
    for match in _DURATION_RE.finditer(text):
        if match.start() != pos:
            return None
        number, unit = float(match.group(1)), match.group(2)
        total += number * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]
        pos = match.end()
    return total if pos == len(text) else None
