"""Request-body helpers: read `model`/`stream`/`max_tokens`, estimate input size, and rewrite
`model` or `stream_options.include_usage` with the smallest possible byte change.

A body that needs no change is returned as the very same bytes object. A change re-serialises
only the one top-level value it touches; every other byte (key order, spacing, escapes)
stays as the caller sent it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from spectra.errors import InvalidError

from .context import ServerContext, server_context
from .metering import estimate_tokens_from_chars
from .types import WireProtocol, as_int

_DECODER = json.JSONDecoder()
_WS = re.compile(r"[ \t\n\r]*")


class RequestBodyInvalidError(InvalidError):
    code = "invalid_request_body"


@dataclass(frozen=True, slots=True)
class RequestInfo:
    model: str | None
    stream: bool
    max_tokens: int | None
    """anthropic `max_tokens`; chat `max_completion_tokens` or `max_tokens`; responses
    `max_output_tokens`. None when the caller set no limit."""
    include_usage: bool
    """OpenAI chat: the caller itself asked for `stream_options.include_usage`."""
    input_tokens_estimate: int
    fields: dict[str, Any] = field(repr=False, compare=False)
    context: ServerContext = field(default_factory=ServerContext)
    """Input the upstream keeps or fetches, server tools, `n` (see `context.py`)."""
    """The parsed body, for callers that need more than the above."""


def estimate_input_tokens(body: bytes) -> int:
    """ceil(body bytes / 4): cheap and deliberately generous, since JSON syntax, tool
    schemas and base64 images inflate it; used only to size a hold, never to bill a
    finished request."""
    return estimate_tokens_from_chars(len(body))


def parse_body(body: bytes) -> dict[str, Any]:
    """Parse a JSON object body or raise `RequestBodyInvalidError`."""
    try:
        obj = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestBodyInvalidError("The request body is not valid JSON.") from exc
    if not isinstance(obj, dict):
        raise RequestBodyInvalidError("The request body must be a JSON object.")
    return obj


def inspect_request(protocol: WireProtocol, body: bytes) -> RequestInfo:
    """Read what admission needs from a request body (one `json.loads`)."""
    obj = parse_body(body)
    model = obj.get("model")
    stream = obj.get("stream") is True
    if protocol is WireProtocol.ANTHROPIC_MESSAGES:
        max_tokens = as_int(obj.get("max_tokens"))
    elif protocol is WireProtocol.OPENAI_CHAT:
        max_tokens = as_int(obj.get("max_completion_tokens"))
        if max_tokens is None:
            max_tokens = as_int(obj.get("max_tokens"))
    else:
        max_tokens = as_int(obj.get("max_output_tokens"))
    options = obj.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    return RequestInfo(
        model=model if isinstance(model, str) else None,
        stream=stream,
        max_tokens=max_tokens,
        include_usage=include_usage,
        input_tokens_estimate=estimate_input_tokens(body),
        fields=obj,
        context=server_context(protocol, obj),
    )


def rewrite_request(
    body: bytes,
    *,
    model: str | None = None,
    include_usage: bool = False,
    parsed: dict[str, Any] | None = None,
) -> bytes:
    """Set the top-level `model` (when given and different) and, when `include_usage`,
    `stream_options.include_usage = true`. Returns `body` itself when nothing changes.

    `parsed` is `body` already parsed (`RequestInfo.fields`): a large body is not parsed twice.
    """
    obj = parse_body(body) if parsed is None else parsed
    want_model = model is not None and obj.get("model") != model
    options = obj.get("stream_options")
    want_usage = include_usage and not (
        isinstance(options, dict) and options.get("include_usage") is True
    )
    if not want_model and not want_usage:
        return body
    text = body.decode("utf-8")
    spans, open_end = _top_level_spans(text)
    edits: list[tuple[int, int, str]] = []
    if want_model:
        if "model" in spans:
            start, end = spans["model"]
            edits.append((start, end, _dumps(model)))
        else:
            edits.append((open_end, open_end, f'"model":{_dumps(model)}' + ("," if spans else "")))
    if want_usage:
        if "stream_options" in spans and isinstance(options, dict):
            start, end = spans["stream_options"]
            edits.append((start, end, _dumps({**options, "include_usage": True})))
        elif "stream_options" in spans:
            start, end = spans["stream_options"]
            edits.append((start, end, _dumps({"include_usage": True})))
        else:
            insert = '"stream_options":{"include_usage":true}'
            edits.append(
                (
                    open_end,
                    open_end,
                    insert + ("," if spans or (want_model and "model" not in spans) else ""),
                )
            )
    edits.sort(key=lambda e: e[0], reverse=True)
    for start, end, replacement in edits:
        text = text[:start] + replacement + text[end:]
    return text.encode("utf-8")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _ws(text: str, idx: int) -> int:
    match = _WS.match(text, idx)
    return match.end() if match else idx


def _top_level_spans(text: str) -> tuple[dict[str, tuple[int, int]], int]:
    """Char spans of each top-level value (last occurrence wins, as in json.loads) and the
    position just after the opening brace."""
    idx = _ws(text, 0)
    if text[idx : idx + 1] != "{":
        raise RequestBodyInvalidError("The request body must be a JSON object.")
    open_end = idx + 1
    spans: dict[str, tuple[int, int]] = {}
    idx = _ws(text, open_end)
    if text[idx : idx + 1] == "}":
        return spans, open_end
    while True:
        key, idx = _DECODER.raw_decode(text, idx)
        idx = _ws(text, idx)
        if text[idx : idx + 1] != ":":
            raise RequestBodyInvalidError("The request body is not valid JSON.")
        idx = _ws(text, idx + 1)
        _, end = _DECODER.raw_decode(text, idx)
        spans[str(key)] = (idx, end)
        idx = _ws(text, end)
        if text[idx : idx + 1] == ",":
            idx = _ws(text, idx + 1)
            continue
        return spans, open_end
