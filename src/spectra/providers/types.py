"""The shared upstream vocabulary: providers, wire protocols and the normalised `Usage`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Provider(StrEnum):
    ANTHROPIC = "anthropic"
    OPENAI = "openai"
    OPENAI_COMPATIBLE = "openai_compatible"


class WireProtocol(StrEnum):
    """The three request/response dialects the gateway relays."""

    ANTHROPIC_MESSAGES = "anthropic_messages"
    OPENAI_CHAT = "openai_chat"
    OPENAI_RESPONSES = "openai_responses"


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

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
        )


def as_int(value: object) -> int | None:
    """Return a token count from a JSON value, or None when absent or not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    return None
