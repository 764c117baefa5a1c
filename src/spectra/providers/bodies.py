"""Request-body helpers: parse a body once (strictly: UTF-8, one JSON object, no duplicate
top-level key, no NaN/Infinity), read and check `model`/`stream`/`max_tokens`, estimate input
size, and rewrite `model` or `stream_options.include_usage` with the smallest possible byte change.

A body that needs no change is returned as the very same bytes object. A change re-serialises
only the one top-level value it touches; every other byte (key order, spacing, escapes)
stays as the caller sent it.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from spectra.errors import InvalidError

from .context import ServerContext, server_context
from .metering import estimate_tokens_from_chars
from .types import WireProtocol


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_no_constant)
_OPEN = re.compile(r"[ \t\n\r]*\{[ \t\n\r]*")
_COLON = re.compile(r"[ \t\n\r]*:[ \t\n\r]*")
_SEP = re.compile(r"[ \t\n\r]*([,}])[ \t\n\r]*")


class RequestBodyInvalidError(InvalidError):
    code = "invalid_request_body"


class DuplicateKeyError(RequestBodyInvalidError):
    """A top-level key given twice: parsers disagree on which one counts (the gateway would
    authorise and price one value while the upstream acts on the other)."""

    code = "duplicate_key"


class RequestFieldInvalidError(InvalidError):
    """A field the gateway reads (to authorise, price or relay) has the wrong type or value."""

    code = "invalid_request_field"


@dataclass(frozen=True, slots=True)
class BodyLayout:
    """Where each top-level value sits in the decoded body text (char offsets)."""

    spans: dict[str, tuple[int, int]]
    open_end: int
    """The position just after the opening brace."""


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
    """The parsed body, for callers that need more than the above."""
    layout: BodyLayout | None = field(default=None, repr=False, compare=False)
    """The body's top-level layout, so a rewrite does not parse it again."""
    context: ServerContext = field(default_factory=ServerContext)
    """Input the upstream keeps or fetches, server tools, `n` (see `context.py`)."""
    cache_write_1h: bool = False
    """An Anthropic request that may ask for 1-hour cache writes (`"ttl": "1h"` in its bytes; a
    cheap, deliberately generous check): its input is held at the 1-hour write price."""


def estimate_input_tokens(body: bytes) -> int:
    """ceil(body bytes / 4): cheap and deliberately generous, since JSON syntax, tool
    schemas and base64 images inflate it; used only to size a hold, never to bill a
    finished request."""
    return estimate_tokens_from_chars(len(body))


def parse_body(body: bytes) -> dict[str, Any]:
    """Parse a JSON object body or raise `RequestBodyInvalidError` (`DuplicateKeyError`)."""
    return _parse(body)[0]


def _parse(body: bytes) -> tuple[dict[str, Any], BodyLayout]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestBodyInvalidError("The request body is not valid UTF-8.") from exc
    try:
        return _parse_object(text)
    except RecursionError as exc:
        raise RequestBodyInvalidError("The request body is nested too deeply.") from exc
    except ValueError as exc:
        raise RequestBodyInvalidError("The request body is not valid JSON.") from exc


def _parse_object(text: str) -> tuple[dict[str, Any], BodyLayout]:
    """One pass: the top level by hand (to see every key, duplicates included), each value by
    the C scanner, exactly once. Raises ValueError for anything that is not one JSON object."""
    opened = _OPEN.match(text)
    if opened is None:
        raise RequestBodyInvalidError("The request body must be a JSON object.")
    open_end = text.index("{", 0, opened.end()) + 1
    fields: dict[str, Any] = {}
    spans: dict[str, tuple[int, int]] = {}
    idx = opened.end()
    if text.startswith("}", idx):
        idx += 1
    else:
        while True:
            if not text.startswith('"', idx):
                raise ValueError("expected a key")
            key, idx = _DECODER.raw_decode(text, idx)  # a string: it starts with a quote
            colon = _COLON.match(text, idx)
            if colon is None:
                raise ValueError("expected ':'")
            start = colon.end()
            value, end = _DECODER.raw_decode(text, start)
            if key in fields:
                raise DuplicateKeyError(
                    f"The request body gives the key '{key[:100]}' more than once; send it once.",
                    key=key[:100],
                )
            fields[key] = value
            spans[key] = (start, end)
            sep = _SEP.match(text, end)
            if sep is None:
                raise ValueError("expected ',' or '}'")
            idx = sep.end()
            if sep.group(1) == "}":
                break
    if text[idx:].strip(" \t\n\r"):
        raise ValueError("extra data after the object")
    return fields, BodyLayout(spans, open_end)


MAX_MODEL_CHARS = 200
"""The longest model name kept on a usage record (its column); real names are far shorter."""

_TOKEN_FIELDS: dict[WireProtocol, tuple[str, ...]] = {
    WireProtocol.ANTHROPIC_MESSAGES: ("max_tokens",),
    WireProtocol.OPENAI_CHAT: ("max_completion_tokens", "max_tokens"),
    WireProtocol.OPENAI_RESPONSES: ("max_output_tokens",),
    WireProtocol.GEMINI: (),
}
_LIST_FIELDS: dict[WireProtocol, str] = {
    WireProtocol.ANTHROPIC_MESSAGES: "messages",
    WireProtocol.OPENAI_CHAT: "messages",
    WireProtocol.GEMINI: "contents",
}


def _bad_field(name: str, expected: str) -> RequestFieldInvalidError:
    return RequestFieldInvalidError(f"The field '{name}' must be {expected}.", field=name)


def _token_limit(obj: dict[str, Any], name: str) -> int | None:
    """A token limit: absent/null, or a whole number >= 0 (a float only when finite and whole)."""
    value = obj.get(name)
    if value is None:
        return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad_field(name, "a whole number of tokens, zero or more")
    return value


def inspect_request(protocol: WireProtocol, body: bytes) -> RequestInfo:
    """Read and check what admission needs from a request body (parsed once).

    Raises `RequestBodyInvalidError` (`DuplicateKeyError`) or `RequestFieldInvalidError` for a
    body the gateway would authorise or price differently from how the upstream reads it."""
    obj, layout = _parse(body)
    model = obj.get("model")
    if model is not None and not (isinstance(model, str) and len(model) <= MAX_MODEL_CHARS):
        raise _bad_field("model", f"a string of at most {MAX_MODEL_CHARS} characters")
    stream = obj.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _bad_field("stream", "true or false")
    max_tokens: int | None = None
    for name in _TOKEN_FIELDS[protocol]:
        limit = _token_limit(obj, name)
        if max_tokens is None:
            max_tokens = limit
    if protocol is WireProtocol.GEMINI:
        config = obj.get("generationConfig")
        if config is not None and not isinstance(config, dict):
            raise _bad_field("generationConfig", "an object")
        max_tokens = _token_limit(config or {}, "maxOutputTokens")
    listed = _LIST_FIELDS.get(protocol)
    if listed is not None and obj.get(listed) is not None and not isinstance(obj[listed], list):
        raise _bad_field(listed, "a list")
    if protocol is WireProtocol.OPENAI_RESPONSES and not isinstance(
        obj.get("input"), str | list | None
    ):
        raise _bad_field("input", "a string or a list")
    options = obj.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise _bad_field("stream_options", "an object")
    return RequestInfo(
        model=model,
        stream=stream is True,
        max_tokens=max_tokens,
        include_usage=isinstance(options, dict) and options.get("include_usage") is True,
        input_tokens_estimate=estimate_input_tokens(body),
        fields=obj,
        layout=layout,
        context=server_context(protocol, obj),
        cache_write_1h=protocol is WireProtocol.ANTHROPIC_MESSAGES
        and b'"ttl"' in body
        and b'"1h"' in body,
    )


def rewrite_request(
    body: bytes,
    *,
    model: str | None = None,
    include_usage: bool = False,
    parsed: RequestInfo | None = None,
) -> bytes:
    """Set the top-level `model` (when given and different) and, when `include_usage`,
    `stream_options.include_usage = true`. Returns `body` itself when nothing changes.

    `parsed` is `inspect_request(body)`: a large body is not parsed twice.
    """
    if parsed is not None and parsed.layout is not None:
        obj, layout = parsed.fields, parsed.layout
    else:
        obj, layout = _parse(body)
    want_model = model is not None and obj.get("model") != model
    options = obj.get("stream_options")
    want_usage = include_usage and not (
        isinstance(options, dict) and options.get("include_usage") is True
    )
    if not want_model and not want_usage:
        return body
    text = body.decode("utf-8")
    spans, open_end = layout.spans, layout.open_end
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
