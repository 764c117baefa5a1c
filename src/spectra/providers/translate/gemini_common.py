"""Pieces of the Gemini generateContent protocol shared by its request, response and stream
modules: usage from `usageMetadata`, finish reasons, parts and errors in Gemini's shape."""

from __future__ import annotations

import json
from typing import Any

from spectra.providers.types import Usage, as_int

from .common import error_type_for_status
from .ir import Error, Part, Reasoning, StopReason, Text, ToolCall

FINISH_OF_STOP: dict[str, str] = {
    "end_turn": "STOP",
    "tool_use": "STOP",
    "stop_sequence": "STOP",
    "pause_turn": "STOP",
    "max_tokens": "MAX_TOKENS",
    "refusal": "SAFETY",
}
_REFUSALS = frozenset(
    (
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
    )
)
STATUS_NAMES: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_STATUS_OF_NAME: dict[str, int] = {
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "RESOURCE_EXHAUSTED": 429,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}
SKIP_SIGNATURE = "skip_thought_signature_validator"
"""The placeholder Gemini 3 documents for function calls from another model's history, which
carry no thought signature of Gemini's own."""
_CONTEXT_CODE = "context_length_exceeded"


def gemini_stop(finish: object, *, has_tool_call: bool) -> StopReason:
    """The stop reason of a candidate's `finishReason`; a tool call in the answer makes it
    `tool_use` (Gemini says STOP)."""
    if finish == "MAX_TOKENS":
        return "max_tokens"
    if isinstance(finish, str) and finish in _REFUSALS:
        return "refusal"
    return "tool_use" if has_tool_call else "end_turn"


def usage_from_gemini(raw: object) -> tuple[Usage | None, int]:
    """Usage and thinking tokens from `usageMetadata`. `promptTokenCount` includes the cached
    part (moved to `cache_read_tokens`) and tool-use prompt tokens are input; thoughts are
    billed as output, as Gemini bills them."""
    if not isinstance(raw, dict):
        return None, 0
    prompt = as_int(raw.get("promptTokenCount")) or 0
    tool_prompt = as_int(raw.get("toolUsePromptTokenCount")) or 0
    cached = max(as_int(raw.get("cachedContentTokenCount")) or 0, 0)
    thoughts = max(as_int(raw.get("thoughtsTokenCount")) or 0, 0)
    candidates = as_int(raw.get("candidatesTokenCount")) or 0
    usage = Usage(
        input_tokens=max(prompt + tool_prompt - cached, 0),
        output_tokens=max(candidates, 0) + thoughts,
        cache_read_tokens=cached,
    )
    return usage, thoughts


def gemini_usage(usage: Usage, thoughts: int = 0) -> dict[str, Any]:
    """`usageMetadata` for a usage: thoughts are part of our output, not of candidates."""
    prompt = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
    thoughts = min(thoughts, usage.output_tokens)
    out: dict[str, Any] = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": usage.output_tokens - thoughts,
        "totalTokenCount": prompt + usage.output_tokens,
    }
    if usage.cache_read_tokens:
        out["cachedContentTokenCount"] = usage.cache_read_tokens
    if thoughts:
        out["thoughtsTokenCount"] = thoughts
    return out


def read_parts(raw: object, calls: int = 0) -> list[Part]:
    """The parts of a candidate's content. A call without an id gets a stable one from its
    position (`calls` numbers the calls already read)."""
    parts: list[Part] = []
    for part in raw if isinstance(raw, list) else []:
        if not isinstance(part, dict):
            continue
        if isinstance(part.get("functionCall"), dict):
            parts.append(read_call(part["functionCall"], calls))
            calls += 1
        elif isinstance(part.get("text"), str):
            text = part["text"]
            parts.append(Reasoning(text) if part.get("thought") is True else Text(text))
    return parts


def read_call(call: dict[str, Any], position: int) -> ToolCall:
    name = str(call.get("name") or "")
    call_id = call.get("id")
    if not isinstance(call_id, str) or not call_id:
        call_id = f"call_{position}_{name}"
    args = call.get("args")
    return ToolCall(call_id, name, json.dumps(args if isinstance(args, dict) else {}))


def call_args(arguments: str) -> dict[str, Any]:
    """A call's JSON text as Gemini's `args` object (free text kept under `input`)."""
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        return {"input": arguments}
    return value if isinstance(value, dict) else {"input": value}


def write_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"functionCall": {"id": call_id, "name": name, "args": call_args(arguments)}}


def error_from_gemini(status: int, body: object) -> Error:
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        text = body if isinstance(body, str) else json.dumps(body) if body is not None else ""
        return Error(status, error_type_for_status(status), text)
    name = err.get("status")
    if not status and isinstance(name, str):
        status = _STATUS_OF_NAME.get(name, as_int(err.get("code")) or 500)
    message = str(err.get("message") or "")
    code = _CONTEXT_CODE if "exceeds the maximum number of tokens" in message else None
    kind = error_type_for_status(status)
    if status == 429 and "quota" in message.lower() and "billing" in message.lower():
        kind = "billing_error"
    return Error(status, kind, message, code)


def gemini_error(error: Error) -> tuple[int, dict[str, Any]]:
    """Gemini's error shape, `{"error": {"code", "message", "status"}}`. Anthropic's 529
    (overloaded) becomes 503 UNAVAILABLE."""
    status = 503 if error.status == 529 else error.status
    name = STATUS_NAMES.get(status, "INTERNAL" if status >= 500 else "INVALID_ARGUMENT")
    return status, {"error": {"code": status, "message": error.message, "status": name}}
