"""The shared upstream vocabulary: providers, wire protocols and the normalised `Usage`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class Provider(StrEnum):
    ANTHROPIC = "anthropic"
    OPENAI = "openai"
    OPENAI_COMPATIBLE = "openai_compatible"
    GEMINI = "gemini"
    AZURE_OPENAI = "azure_openai"
    BEDROCK = "bedrock"
    VERTEX = "vertex"


class WireProtocol(StrEnum):
    """The request/response dialects the gateway relays."""

    ANTHROPIC_MESSAGES = "anthropic_messages"
    OPENAI_CHAT = "openai_chat"
    OPENAI_RESPONSES = "openai_responses"
    GEMINI = "gemini_generate_content"


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens of one request, normalised so the four classes never overlap.

    `input_tokens` excludes cached input: Anthropic reports it that way already; OpenAI's
    `prompt_tokens` / `input_tokens` include the cached part, which the parsers subtract
    into `cache_read_tokens`. Each class is priced separately, so a token is counted once.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    """The part of `cache_write_tokens` written with a 1-hour lifetime (`cache_writes`)."""
    web_search_calls: int = 0
    """Server-side web searches the upstream ran (billed per call)."""
    input_missing: bool = False
    """The upstream reported no valid (uncached) input count: settlement estimates it."""
    output_missing: bool = False
    """The upstream reported no valid output count: settlement estimates it."""
    anomalies: tuple[str, ...] = ()
    """What was wrong with the reported counts ("output_tokens: 'lots' is not a count")."""

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
        )


def cache_writes(
    total: int | None, five_minutes: int | None, one_hour: int | None
) -> tuple[int | None, int]:
    """(all cache-write tokens, the 1-hour part) from a reported total and breakdown.

    The safe rule when they disagree: never charge less than the reported total at the
    5-minute rate, and never less than the breakdown. So the total billed is the larger of the
    reported total and the breakdown's sum; the 1-hour part is the breakdown's 1-hour count; a
    total above the breakdown's sum is billed as 5-minute writes. No breakdown (an upstream or
    a translated path that cannot report lifetimes): every write is a 5-minute write.
    """
    one_h = one_hour or 0
    breakdown = (five_minutes or 0) + one_h
    if total is None and five_minutes is None and one_hour is None:
        return None, 0
    return max(total or 0, breakdown), one_h


def as_int(value: object) -> int | None:
    """Return an integer from a JSON value, or None when absent or not a finite number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    return None


def token_count(value: object, name: str, anomalies: list[str]) -> int | None:
    """A token count reported by an upstream: None when absent; when it is not a sane count
    (a string, a bool, NaN, infinite, negative) None too, with the anomaly noted; a
    fractional count is rounded up and noted. Size is checked later, against the model."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, float) and math.isfinite(value) and value >= 0:
        if value.is_integer():
            return int(value)
        anomalies.append(f"{name}: {value!r} is not a whole number")
        return math.ceil(value)
    anomalies.append(f"{name}: {_shown(value)} is not a token count")
    return None


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def usage_cached_within_input(
    total_input: int | None,
    cached: int | None,
    output: int | None,
    anomalies: list[str],
    *,
    cached_name: str = "cached_tokens",
    input_name: str = "input",
) -> Usage:
    """Usage from a count of input tokens that includes the cached ones (OpenAI, Gemini): the
    cached part is clamped to the input (an anomaly when it was more) and the rest is input."""
    cached_tokens = cached or 0
    if total_input is not None and cached_tokens > total_input:
        anomalies.append(
            f"{cached_name}: {cached_tokens} is more than the {input_name} {total_input}"
        )
        cached_tokens = total_input
    return Usage(
        input_tokens=max((total_input or 0) - cached_tokens, 0),
        output_tokens=output or 0,
        cache_read_tokens=cached_tokens,
        input_missing=total_input is None,
        output_missing=output is None,
        anomalies=tuple(anomalies),
    )
