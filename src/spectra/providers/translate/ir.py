"""The neutral form every protocol is read into and written from.

Each protocol module parses its wire shape into these dataclasses and writes them back out,
so the six translation directions are compositions of three readers and three writers and
no mapping exists twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from spectra.providers.types import Usage

StopReason = Literal["end_turn", "max_tokens", "stop_sequence", "tool_use", "refusal", "pause_turn"]


@dataclass(slots=True)
class Text:
    text: str
    cache: bool = False


@dataclass(slots=True)
class Image:
    """An image by URL, or inline as base64 `data` with its `media_type`."""

    url: str | None = None
    media_type: str | None = None
    data: str | None = None
    detail: str | None = None
    cache: bool = False


@dataclass(slots=True)
class ToolCall:
    """A call the assistant made. `arguments` is JSON text (for a custom tool, the raw input)."""

    id: str
    name: str
    arguments: str
    custom: bool = False
    cache: bool = False


@dataclass(slots=True)
class ToolResult:
    call_id: str
    content: list[Text | Image]
    is_error: bool = False
    custom: bool = False
    cache: bool = False


@dataclass(slots=True)
class Reasoning:
    """Reasoning the model produced.

    `origin` names the vendor whose opaque token (`opaque`, an Anthropic signature or an
    OpenAI encrypted_content) can be replayed: only that vendor accepts it back.
    """

    text: str
    origin: Literal["anthropic", "openai"] | None = None
    opaque: str | None = None
    item_id: str | None = None
    redacted: bool = False


Part = Text | Image | ToolCall | ToolResult | Reasoning


@dataclass(slots=True)
class Message:
    role: Literal["user", "assistant", "system"]
    parts: list[Part]


@dataclass(slots=True)
class Tool:
    """A tool the model may call. A custom tool takes free text (`format` describes it)."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    custom: bool = False
    format: dict[str, Any] | None = None
    strict: bool | None = None
    cache: bool = False


@dataclass(slots=True)
class ToolChoice:
    mode: Literal["auto", "none", "required", "tool"]
    name: str | None = None


@dataclass(slots=True)
class Request:
    model: str
    system: list[Text] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] = field(default_factory=list)
    stream: bool = False
    user: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    effort: str | None = None
    """OpenAI reasoning effort (minimal/low/medium/high/...), or None for the default."""
    thinking_off: bool = False
    thinking_summary: str | None = None
    thinking_hidden: bool = False
    """The caller asked not to be shown the thinking text (Anthropic `display: "omitted"`, Claude
    Code 2.1.33x): no reasoning summaries are asked for."""
    cache_key: str | None = None
    namespaces: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Flattened tool name -> (Responses namespace, name inside it)."""
    degraded: list[str] = field(default_factory=list)
    """Sentences naming what the source carried that this translation dropped or changed."""


@dataclass(slots=True)
class Response:
    id: str
    model: str
    parts: list[Part]
    stop_reason: StopReason
    usage: Usage
    stop_sequence: str | None = None
    created: int = 0
    reasoning_tokens: int = 0


@dataclass(slots=True)
class Error:
    """An error in neutral terms: Anthropic's error types are the vocabulary."""

    status: int
    type: str
    message: str
    code: str | None = None
    param: str | None = None


@dataclass(slots=True)
class Start:
    id: str
    model: str
    usage: Usage | None = None
    created: int = 0


@dataclass(slots=True)
class BlockStart:
    index: int
    kind: Literal["text", "tool", "reasoning"]
    call_id: str = ""
    name: str = ""
    custom: bool = False
    namespace: str | None = None
    redacted_data: str | None = None


@dataclass(slots=True)
class Delta:
    index: int
    kind: Literal["text", "args", "thinking", "opaque"]
    value: str
    origin: Literal["anthropic", "openai"] | None = None
    item_id: str | None = None


@dataclass(slots=True)
class BlockStop:
    index: int


@dataclass(slots=True)
class End:
    stop_reason: StopReason
    usage: Usage | None = None
    stop_sequence: str | None = None
    reasoning_tokens: int = 0


@dataclass(slots=True)
class Failure:
    error: Error


StreamEvent = Start | BlockStart | Delta | BlockStop | End | Failure


class Templated(dict[str, Any]):
    """A client stream event that differs from the others with the same `key` only in one string,
    `value` (a text, arguments or thinking delta): the SSE writer serialises it from a template
    made once per key, encoding just that string, instead of the whole event each time. It is the
    event itself too (a dict), for callers that read events rather than bytes."""

    __slots__ = ("build", "key", "value")

    def __init__(self, key: tuple[Any, ...], value: str, build: Callable[[str], dict[str, Any]]):
        super().__init__(build(value))
        self.key = key
        self.value = value
        self.build = build
