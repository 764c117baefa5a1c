"""What a request makes the upstream bill beyond what its body shows (pure, no I/O).

Some request fields pull in input the upstream keeps or fetches itself: an earlier response
(`previous_response_id`), a conversation, a stored prompt, uploaded files, a container, MCP
servers, and server-side tools (web search, file search, code execution) whose results are
billed as input, over up to `SERVER_TOOL_TURNS` model turns inside one request. Spectra cannot
see that input, so admission holds for it (docs/money.md, "Input the upstream keeps"), and
settlement accepts reported usage up to the matching bound. A field whose cost cannot be
bounded at all is named in `unbounded` and the request is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .types import WireProtocol, as_int

SERVER_TOOL_TURNS = 10
"""Model turns one request may run on the upstream when it uses server-side tools (Anthropic
stops a server-tool loop after 10 iterations with `pause_turn`)."""

_RESPONSES_STATE_TOOLS = frozenset({"file_search", "code_interpreter", "mcp"})
_ANTHROPIC_SERVER_TOOLS = ("web_search", "web_fetch", "code_execution", "tool_search")
_MAX_DEPTH = 8
_PREMIUM_TIERS = frozenset({"priority", "scale"})
"""OpenAI `service_tier` values billed above the standard price the catalog knows: refused
(`auto`, `default` and `flex` cost at most the standard price)."""
MAX_CHOICES = 128
"""OpenAI's own limit on chat `n`; a larger one is held (and bounded) as this many."""


@dataclass(frozen=True, slots=True)
class ServerContext:
    """The request's server-side context features, as admission and settlement need them."""

    references: tuple[str, ...] = ()
    """Fields that pull in input the body does not show (hold: the model's context window)."""
    server_tools: tuple[str, ...] = ()
    """Server-side tools: the upstream may run several turns (bill bound: `turns`)."""
    choices: int = 1
    """OpenAI chat `n`: completions generated, each up to the output limit."""
    unbounded: str | None = None
    """A field whose cost Spectra cannot bound (`background`): the request is refused."""

    @property
    def turns(self) -> int:
        return SERVER_TOOL_TURNS if self.server_tools else 1

    @property
    def keeps_input(self) -> bool:
        return bool(self.references or self.server_tools)


def server_context(protocol: WireProtocol, body: dict[str, Any]) -> ServerContext:
    """Read `body` (a parsed request) for the features above."""
    if protocol is WireProtocol.OPENAI_RESPONSES:
        return _responses(body)
    if protocol is WireProtocol.OPENAI_CHAT:
        return _chat(body)
    return _anthropic(body)


def _responses(body: dict[str, Any]) -> ServerContext:
    refs = [
        name
        for name in ("previous_response_id", "conversation")
        if body.get(name) not in (None, "", {})
    ]
    prompt = body.get("prompt")
    if isinstance(prompt, dict) and prompt.get("id"):
        refs.append("prompt")
    if _mentions(body.get("input"), 0):
        refs.append("input file or item reference")
    tools = [t.get("type") for t in _dicts(body.get("tools"))]
    server_tools = sorted(
        {
            str(kind)
            for kind in tools
            if isinstance(kind, str) and (kind in _RESPONSES_STATE_TOOLS or "search" in kind)
        }
    )
    unbounded = "background" if body.get("background") is True else _premium_tier(body)
    return ServerContext(tuple(refs), tuple(server_tools), 1, unbounded)


def _chat(body: dict[str, Any]) -> ServerContext:
    n = as_int(body.get("n"))
    tools = ("web_search_options",) if body.get("web_search_options") is not None else ()
    refs = ("input file",) if _mentions(body.get("messages"), 0) else ()
    unpriced = "audio" if _audio(body) else _premium_tier(body)
    return ServerContext(refs, tools, min(max(n or 1, 1), MAX_CHOICES), unpriced)


def _audio(body: dict[str, Any]) -> bool:
    """Whether a chat request asks for or sends audio: audio tokens are billed at their own
    prices, several times the text price the catalog holds."""
    modalities = body.get("modalities")
    if body.get("audio") is not None or (isinstance(modalities, list) and "audio" in modalities):
        return True
    return any(
        part.get("type") == "input_audio"
        for message in _dicts(body.get("messages"))
        for part in _dicts(message.get("content"))
    )


def _premium_tier(body: dict[str, Any]) -> str | None:
    tier = body.get("service_tier")
    return "service_tier" if isinstance(tier, str) and tier in _PREMIUM_TIERS else None


def _anthropic(body: dict[str, Any]) -> ServerContext:
    refs = [
        name for name in ("container", "mcp_servers") if body.get(name) not in (None, "", [], {})
    ]
    if _mentions(body.get("messages"), 0) or _mentions(body.get("system"), 0):
        refs.append("file or container upload")
    server_tools = sorted(
        {
            kind
            for kind in (t.get("type") for t in _dicts(body.get("tools")))
            if isinstance(kind, str) and kind.startswith(_ANTHROPIC_SERVER_TOOLS)
        }
    )
    return ServerContext(tuple(refs), tuple(server_tools), 1, _geo(body))


def _geo(body: dict[str, Any]) -> str | None:
    """Anthropic bills inference pinned to a region (`inference_geo` other than `global`, e.g.
    US-only) at a multiple of the list price no price source carries: refused, never undercharged
    (docs/gateway.md, "Billing policy")."""
    geo = body.get("inference_geo")
    return None if geo is None or geo == "global" else "inference_geo"


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _mentions(value: Any, depth: int) -> bool:
    """Whether a message or input tree references stored content: a `file_id`, an
    `item_reference`, a file source or a container upload."""
    if depth > _MAX_DEPTH:
        return False
    if isinstance(value, list):
        return any(_mentions(item, depth + 1) for item in value)
    if not isinstance(value, dict):
        return False
    if value.get("file_id") or value.get("type") in ("item_reference", "container_upload"):
        return True
    source = value.get("source")
    if isinstance(source, dict) and source.get("type") == "file":
        return True
    return any(
        _mentions(item, depth + 1) for item in value.values() if isinstance(item, (list, dict))
    )
