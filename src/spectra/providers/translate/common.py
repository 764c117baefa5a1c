"""Shared pieces of the translation: stop reasons, usage shapes, error types and statuses,
reasoning effort, portable reasoning signatures, tool names and call ids."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from spectra.errors import InvalidError, UpstreamError
from spectra.providers.types import Usage, as_int

from .ir import Error, Failure, Reasoning, StopReason, Text, Tool


class TranslationRefusedError(InvalidError):
    """The request needs something the upstream protocol cannot express at all."""

    code = "translation_unsupported"


compact_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
"""`json.dumps(..., ensure_ascii=False, separators=...)` without building an encoder per call:
how every client event is serialised."""

SHAPE_ERRORS = (AttributeError, KeyError, IndexError, TypeError, ValueError)
"""What reading JSON of the wrong shape raises. Readers check types where a value matters and
leave odd shapes to the boundaries in `__init__` and `stream`, which catch exactly these."""


class UnreadableBodyError(InvalidError):
    """A request body whose shape the caller's protocol does not allow (a list where an
    object belongs, ...), found while translating it."""

    code = "invalid_request_body"


class UnreadableAnswerError(UpstreamError):
    """An upstream answer body that is not its protocol's shape, so it cannot be translated."""

    code = "upstream_answer_unreadable"


CHAT_FINISH: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
FINISH_STOP: dict[str, StopReason] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
ANTHROPIC_STOPS: frozenset[str] = frozenset(
    ("end_turn", "max_tokens", "stop_sequence", "tool_use", "refusal", "pause_turn")
)


def anthropic_stop(value: object) -> StopReason:
    """Read an Anthropic `stop_reason`; unknown values (e.g. context window) end the turn."""
    if value == "model_context_window_exceeded":
        return "max_tokens"
    return value if isinstance(value, str) and value in ANTHROPIC_STOPS else "end_turn"  # type: ignore[return-value]


def chat_stop(value: object) -> StopReason:
    return FINISH_STOP.get(value, "end_turn") if isinstance(value, str) else "end_turn"


def responses_status(stop: StopReason) -> tuple[str, dict[str, str] | None]:
    """The Responses `status` and `incomplete_details` for a stop reason."""
    if stop == "max_tokens":
        return "incomplete", {"reason": "max_output_tokens"}
    if stop == "refusal":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def responses_stop(body: dict[str, Any], *, has_tool_call: bool) -> StopReason:
    details = body.get("incomplete_details")
    reason = details.get("reason") if isinstance(details, dict) else None
    if body.get("status") == "incomplete" and reason == "content_filter":
        return "refusal"
    if body.get("status") == "incomplete":
        return "max_tokens"
    return "tool_use" if has_tool_call else "end_turn"


def anthropic_usage(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
    }


def usage_from_anthropic(raw: object) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    return Usage(
        input_tokens=as_int(raw.get("input_tokens")) or 0,
        output_tokens=as_int(raw.get("output_tokens")) or 0,
        cache_read_tokens=as_int(raw.get("cache_read_input_tokens")) or 0,
        cache_write_tokens=as_int(raw.get("cache_creation_input_tokens")) or 0,
    )


def _openai_usage(usage: Usage, reasoning_tokens: int, prefix: str, output: str) -> dict[str, Any]:
    prompt = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
    return {
        f"{prefix}_tokens": prompt,
        f"{output}_tokens": usage.output_tokens,
        "total_tokens": prompt + usage.output_tokens,
        f"{prefix}_tokens_details": {
            "cached_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        f"{output}_tokens_details": {"reasoning_tokens": reasoning_tokens},
    }


def chat_usage(usage: Usage, reasoning_tokens: int = 0) -> dict[str, Any]:
    """Chat's usage: `prompt_tokens` counts cached and cache-written tokens too."""
    return _openai_usage(usage, reasoning_tokens, "prompt", "completion")


def responses_usage(usage: Usage, reasoning_tokens: int = 0) -> dict[str, Any]:
    return _openai_usage(usage, reasoning_tokens, "input", "output")


def usage_from_openai(raw: object) -> tuple[Usage | None, int]:
    """Usage and reasoning tokens from a chat or Responses usage object (either field names)."""
    if not isinstance(raw, dict):
        return None, 0
    total = as_int(raw.get("prompt_tokens", raw.get("input_tokens"))) or 0
    details = raw.get("prompt_tokens_details", raw.get("input_tokens_details"))
    cached = as_int(details.get("cached_tokens")) if isinstance(details, dict) else None
    if cached is None:
        cached = as_int(raw.get("prompt_cache_hit_tokens"))
    out_details = raw.get("completion_tokens_details", raw.get("output_tokens_details"))
    reasoning = as_int(out_details.get("reasoning_tokens")) if isinstance(out_details, dict) else 0
    written = as_int(details.get("cache_write_tokens")) if isinstance(details, dict) else None
    cached, written = max(cached or 0, 0), max(written or 0, 0)
    usage = Usage(
        input_tokens=max(total - cached - written, 0),
        output_tokens=as_int(raw.get("completion_tokens", raw.get("output_tokens"))) or 0,
        cache_read_tokens=cached,
        cache_write_tokens=written,
    )
    return usage, reasoning or 0


EFFORT_BUDGET: dict[str, int] = {"minimal": 1024, "low": 4096, "medium": 10000, "high": 24000}
ANTHROPIC_TO_OPENAI_EFFORT: dict[str, str] = {
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "xhigh",
    "max": "max",
}
OPENAI_TO_ANTHROPIC_EFFORT: dict[str, str] = {
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "xhigh",
    "max": "max",
}


def effort_for_budget(budget: int) -> str:
    """The OpenAI reasoning effort nearest an Anthropic thinking budget (older clients)."""
    for effort, limit in EFFORT_BUDGET.items():
        if budget <= limit:
            return effort
    return "high"


_ANTHROPIC_MARK = "spectra:anthropic:"
_REDACTED_MARK = "spectra:anthropic-redacted:"
_OPENAI_MARK = "spectra:openai:"


def openai_signature(item_id: str, encrypted: str) -> str:
    """An OpenAI reasoning item carried inside an Anthropic thinking signature."""
    return f"{_OPENAI_MARK}{item_id}:{encrypted}"


def reasoning_from_signature(text: str, signature: str) -> Reasoning:
    if signature.startswith(_OPENAI_MARK):
        item_id, _, encrypted = signature[len(_OPENAI_MARK) :].partition(":")
        return Reasoning(text, "openai", encrypted or None, item_id or None)
    return Reasoning(text, "anthropic" if signature else None, signature or None)


def encrypted_for(reasoning: Reasoning) -> str | None:
    """The Responses `encrypted_content` carrying this reasoning's opaque token."""
    if reasoning.origin == "openai" or reasoning.opaque is None:
        return reasoning.opaque
    return (_REDACTED_MARK if reasoning.redacted else _ANTHROPIC_MARK) + reasoning.opaque


def reasoning_from_encrypted(text: str, encrypted: str | None, item_id: str | None) -> Reasoning:
    if encrypted and encrypted.startswith(_ANTHROPIC_MARK):
        return Reasoning(text, "anthropic", encrypted[len(_ANTHROPIC_MARK) :], item_id)
    if encrypted and encrypted.startswith(_REDACTED_MARK):
        return Reasoning(text, "anthropic", encrypted[len(_REDACTED_MARK) :], item_id, True)
    return Reasoning(text, "openai" if encrypted else None, encrypted, item_id)


_UNSAFE_ID = re.compile(r"[^a-zA-Z0-9_-]")


def anthropic_id(call_id: str) -> str:
    """A tool call id Anthropic accepts. Deterministic, so a call and its result still pair."""
    if call_id and not _UNSAFE_ID.search(call_id) and len(call_id) <= 64:
        return call_id
    return "toolu_" + hashlib.sha256(call_id.encode()).hexdigest()[:32]


def openai_id(call_id: str) -> str:
    """A tool call id within OpenAI's 40-character limit, deterministic like `anthropic_id`."""
    if len(call_id) <= 40:
        return call_id
    return "call_" + hashlib.sha256(call_id.encode()).hexdigest()[:32]


def short_user(user: str) -> str:
    """OpenAI caps user ids at 64 characters; a longer one (Claude Code's JSON) is hashed."""
    return user if len(user) <= 64 else hashlib.sha256(user.encode()).hexdigest()


def cache_key_for(system: list[Text], tools: list[str]) -> str:
    """A prompt-cache routing key for a request whose prefix the caller marked cacheable."""
    digest = hashlib.sha256(json.dumps([[t.text for t in system], tools]).encode())
    return "spectra-" + digest.hexdigest()[:40]


def text_of(parts: list[Text]) -> str:
    return "\n\n".join(p.text for p in parts)


def custom_parameters(description: str | None) -> dict[str, Any]:
    """The JSON schema standing in for a free-text custom tool on a function-only protocol."""
    field: dict[str, Any] = {"type": "string"}
    if description:
        field["description"] = description
    return {"type": "object", "properties": {"input": field}, "required": ["input"]}


def tool_schema(tool: Tool) -> dict[str, Any]:
    """A tool's parameter schema: the free-text stand-in for a custom tool, an empty object
    schema for a tool that declared none."""
    if tool.custom:
        return custom_parameters(None)
    if isinstance(tool.parameters, dict) and tool.parameters:
        return tool.parameters
    return {"type": "object", "properties": {}}


def custom_input(arguments: str) -> str:
    """The free text of a custom tool call made through its function stand-in."""
    try:
        obj = json.loads(arguments)
    except ValueError:
        return arguments
    value = obj.get("input") if isinstance(obj, dict) else None
    return value if isinstance(value, str) else arguments


def custom_arguments(text: str) -> str:
    return json.dumps({"input": text})


ANTHROPIC_ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
    529: "overloaded_error",
}
OPENAI_ERROR_TYPES: dict[str, str] = {
    "invalid_request_error": "invalid_request_error",
    "authentication_error": "authentication_error",
    "billing_error": "insufficient_quota",
    "permission_error": "permission_error",
    "not_found_error": "not_found_error",
    "timeout_error": "timeout",
    "request_too_large": "invalid_request_error",
    "rate_limit_error": "rate_limit_error",
    "api_error": "server_error",
    "overloaded_error": "server_error",
}


def truncated() -> Failure:
    """The error that ends a stream which stopped before its final event."""
    return Failure(
        Error(502, "api_error", "the upstream stream ended before the answer was complete")
    )


_TOO_LONG = "prompt is too long"
_CONTEXT_CODE = "context_length_exceeded"


def error_type_for_status(status: int) -> str:
    if status in ANTHROPIC_ERROR_TYPES:
        return ANTHROPIC_ERROR_TYPES[status]
    return "invalid_request_error" if 400 <= status < 500 else "api_error"


def error_from_anthropic(status: int, body: object) -> Error:
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return Error(status, error_type_for_status(status), _plain(body))
    kind, message = err.get("type"), str(err.get("message") or "")
    too_long = kind == "invalid_request_error" and _TOO_LONG in message
    return Error(
        status,
        kind if isinstance(kind, str) else error_type_for_status(status),
        message,
        _CONTEXT_CODE if too_long else None,
    )


def error_from_openai(status: int, body: object) -> Error:
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return Error(status, error_type_for_status(status), _plain(body))
    code, param = err.get("code"), err.get("param")
    kind = error_type_for_status(status)
    if code == "context_length_exceeded" or err.get("type") == "insufficient_quota":
        kind = "invalid_request_error" if code == "context_length_exceeded" else "billing_error"
    return Error(
        status,
        kind,
        str(err.get("message") or ""),
        code if isinstance(code, str) else None,
        param if isinstance(param, str) else None,
    )


def anthropic_error(error: Error) -> tuple[int, dict[str, Any]]:
    """Anthropic's shape. A context overflow says "prompt is too long", the words Claude Code
    looks for before it compacts the conversation."""
    message = error.message
    if error.code == _CONTEXT_CODE and _TOO_LONG not in message:
        message = f"{_TOO_LONG}: {message}"
    body = {"type": "error", "error": {"type": error.type, "message": message}}
    return error.status, body


def openai_error(error: Error) -> tuple[int, dict[str, Any]]:
    """OpenAI's shape. Anthropic's 529 (overloaded) becomes 503, a status OpenAI clients know."""
    status = 503 if error.status == 529 else error.status
    kind = OPENAI_ERROR_TYPES.get(error.type, "server_error" if status >= 500 else error.type)
    return status, {
        "error": {"message": error.message, "type": kind, "param": error.param, "code": error.code}
    }


def _plain(body: object) -> str:
    if isinstance(body, str):
        return body
    return json.dumps(body) if body is not None else ""
