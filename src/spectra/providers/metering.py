"""Metering: from what an upstream reported to the token counts billed (pure, no I/O).

An upstream's usage is not trusted blindly. `meter` fills in what it did not report (input =
request bytes / 4, output = characters of generated text / 4, both rounded up), ignores counts
that are not counts (strings, NaN, negative: noted by the parsers, see `types.token_count`),
and clamps what exceeds the model's context window: the prompt classes (uncached input, then
cache writes, then cache reads) share one window, and output gets at most one window. The
result says whether anything was estimated and lists the anomalies, for the usage record and
the pool account's alert.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .types import Usage, WireProtocol

CHARS_PER_TOKEN = 4
DEFAULT_CONTEXT_WINDOW = 2_000_000
"""The bound for a model whose context window is unknown (the largest windows served today)."""
MAX_TOKENS = 2**31 - 1
"""No count billed exceeds what a usage record's INTEGER columns hold, whatever the window."""


def estimate_tokens_from_chars(chars: int) -> int:
    """ceil(chars / 4): the cut-stream and request-size estimate used throughout."""
    return -(-chars // CHARS_PER_TOKEN) if chars > 0 else 0


@dataclass(frozen=True, slots=True)
class Metered:
    """The usage to bill (sane counts, no flags), whether any of it is an estimate, and why."""

    usage: Usage
    estimated: bool
    anomalies: tuple[str, ...] = ()


def meter(
    reported: Usage | None,
    *,
    input_estimate: int,
    output_estimate: int,
    window: int | None = None,
) -> Metered:
    """The tokens to bill for `reported` (None: the upstream reported no usage at all)."""
    if reported is None:
        usage = Usage(input_tokens=input_estimate, output_tokens=output_estimate)
        return Metered(_clamp(usage, window, []), estimated=True)
    anomalies = list(reported.anomalies)
    input_tokens = reported.input_tokens
    if reported.input_missing:
        input_tokens = max(input_tokens, input_estimate)
    output_tokens = reported.output_tokens
    if reported.output_missing:
        output_tokens = max(output_tokens, output_estimate)
    filled = Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=reported.cache_read_tokens,
        cache_write_tokens=reported.cache_write_tokens,
        cache_write_1h_tokens=reported.cache_write_1h_tokens,
        web_search_calls=reported.web_search_calls,
    )
    usage = _clamp(filled, window, anomalies)
    estimated = reported.input_missing or reported.output_missing or bool(anomalies)
    return Metered(usage, estimated=estimated, anomalies=tuple(dict.fromkeys(anomalies)))


def _clamp(usage: Usage, bound: int | None, anomalies: list[str]) -> Usage:
    window = min(bound or DEFAULT_CONTEXT_WINDOW, MAX_TOKENS)
    room = window
    prompt: dict[str, int] = {}
    for name in ("input_tokens", "cache_write_tokens", "cache_read_tokens"):
        value = getattr(usage, name)
        if value > room:
            anomalies.append(f"{name}: {value} is more than the model's window of {window}")
            value = room
        prompt[name] = value
        room -= value
    output = usage.output_tokens
    if output > window:
        anomalies.append(f"output_tokens: {output} is more than the model's window of {window}")
        output = window
    writes = prompt["cache_write_tokens"]
    return Usage(
        input_tokens=prompt["input_tokens"],
        output_tokens=output,
        cache_read_tokens=prompt["cache_read_tokens"],
        cache_write_tokens=writes,
        # A clamped total keeps its 1-hour part inside it (the dearer writes count first).
        cache_write_1h_tokens=min(usage.cache_write_1h_tokens, writes),
        web_search_calls=min(usage.web_search_calls, MAX_TOKENS),
    )


def body_field(body: bytes, key: str) -> Any:
    """The top-level `key` of a JSON object body, or None (not JSON, not an object, absent)."""
    try:
        obj = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return obj.get(key) if isinstance(obj, dict) else None


def body_output_chars(protocol: WireProtocol, body: dict[str, Any]) -> int:
    """Characters of what a non-streamed response generated (text, reasoning, tool calls), for
    the estimate when it carries no usage."""
    if protocol is WireProtocol.GEMINI:
        return gemini_output_chars(body)
    if protocol is WireProtocol.ANTHROPIC_MESSAGES:
        parts = [_block_text(block) for block in _dicts(body.get("content"))]
    elif protocol is WireProtocol.OPENAI_CHAT:
        parts = []
        for choice in _dicts(body.get("choices")):
            message = choice.get("message")
            if isinstance(message, dict):
                parts.extend(_strings(message, "content", "reasoning_content", "refusal"))
                for call in _dicts(message.get("tool_calls")):
                    function = call.get("function")
                    if isinstance(function, dict):
                        parts.extend(_strings(function, "name", "arguments"))
    else:
        parts = [_item_text(item) for item in _dicts(body.get("output"))]
    return sum(len(part) for part in parts)


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _strings(obj: dict[str, Any], *keys: str) -> list[str]:
    return [value for key in keys if isinstance(value := obj.get(key), str)]


def _block_text(block: dict[str, Any]) -> str:
    text = "".join(_strings(block, "text", "thinking", "name"))
    if isinstance(block.get("input"), dict):
        text += json.dumps(block["input"])
    return text


def _item_text(item: dict[str, Any]) -> str:
    text = "".join(_strings(item, "name", "arguments", "input"))
    for part in _dicts(item.get("content")) + _dicts(item.get("summary")):
        text += "".join(_strings(part, "text", "refusal"))
    return text


def gemini_output_chars(body: dict[str, Any]) -> int:
    """Characters a Gemini response (or stream chunk) generated: text, thoughts and calls."""
    total = 0
    for candidate in _dicts(body.get("candidates")):
        content = candidate.get("content")
        for part in _dicts(content.get("parts") if isinstance(content, dict) else None):
            total += sum(len(text) for text in _strings(part, "text"))
            call = part.get("functionCall")
            if isinstance(call, dict):
                total += len(str(call.get("name") or "")) + len(json.dumps(call.get("args") or {}))
    return total
