"""Anthropic Messages request bodies read into, and written from, the neutral form."""

from __future__ import annotations

import json
from typing import Any

from .common import (
    ANTHROPIC_TO_OPENAI_EFFORT,
    OPENAI_TO_ANTHROPIC_EFFORT,
    anthropic_id,
    cache_key_for,
    custom_input,
    effort_for_budget,
    reasoning_from_signature,
    tool_schema,
)
from .ir import (
    Image,
    Message,
    Part,
    Reasoning,
    Request,
    Text,
    Tool,
    ToolCall,
    ToolChoice,
    ToolResult,
)

DEFAULT_MAX_TOKENS = 32000
"""`max_tokens` is required by Anthropic; OpenAI callers that omit it get this ceiling."""
_CACHE = {"type": "ephemeral"}
_DROPPED_FIELDS = ("context_management", "top_k", "service_tier", "container", "mcp_servers")


def read_request(body: dict[str, Any]) -> Request:
    """Parse an Anthropic Messages request body."""
    req = Request(model=str(body.get("model") or ""))
    system = body.get("system")
    if isinstance(system, str):
        req.system = [Text(system)] if system else []
    elif isinstance(system, list):
        req.system = [
            Text(str(b.get("text") or ""), "cache_control" in b)
            for b in system
            if isinstance(b, dict) and b.get("type") == "text"
        ]
    turns = _TurnControl()
    for msg in body.get("messages") or []:
        if isinstance(msg, dict) and msg.get("role") in ("user", "assistant", "system"):
            parts = _read_parts(msg.get("content"), req)
            if parts or msg["role"] != "system":  # not one that only changed tools
                req.messages.append(Message(msg["role"], parts))
            turns.read(msg)
    for tool in body.get("tools") or []:
        if not isinstance(tool, dict):
            continue
        if tool.get("type") not in (None, "custom"):
            req.degraded.append(f"server tool {tool.get('name')!r} ({tool.get('type')}) dropped")
            continue
        if tool.get("defer_loading") is True:
            # Claude Code 2.1.33x: tools loaded on demand through its ToolSearch tool.
            req.degraded.append(
                f"tool {tool.get('name')!r}: defer_loading dropped, offered up front"
            )
        req.tools.append(
            Tool(
                name=str(tool.get("name") or ""),
                description=tool.get("description"),
                parameters=tool.get("input_schema"),
                strict=tool.get("strict"),
                cache="cache_control" in tool,
            )
        )
    _read_choice(body.get("tool_choice"), req)
    req.max_tokens = body.get("max_tokens")
    req.temperature = body.get("temperature")
    req.top_p = body.get("top_p")
    req.stop = [s for s in body.get("stop_sequences") or [] if isinstance(s, str)]
    req.stream = bool(body.get("stream"))
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        req.user = metadata["user_id"]
    _read_thinking(body, req)
    turns.apply(req)
    for name in _DROPPED_FIELDS:
        if name in body:
            req.degraded.append(f"{name} has no equivalent and was dropped")
    if body.get("cache_control") or _has_cache_marks(req):
        req.cache_key = cache_key_for(req.system, [t.name for t in req.tools])
    return req


class _TurnControl:
    """What Claude Code's `role: "system"` messages change for the turns after them, applied to
    the whole translated request (OpenAI has no per-message tool set or effort):

    - `mid-conversation-tool-changes`: `tool_removal` / `tool_addition` blocks (a `tool_reference`
      by name) take a tool out of, or back into, what the model may call. The last change of each
      tool wins; a removed tool is not offered upstream (deferred tools are offered up front, so
      an addition needs nothing more).
    - `per-turn-control`: a system message's own `output_config.effort` sets the effort of the
      next assistant turn; the one after the last assistant message is the answer's effort."""

    def __init__(self) -> None:
        self.removed: dict[str, bool] = {}
        self.effort: str | None = None

    def read(self, msg: dict[str, Any]) -> None:
        if msg["role"] == "assistant":
            self.effort = None  # that turn has been taken
            return
        if msg["role"] != "system":
            return
        content = msg.get("content")
        for block in content if isinstance(content, list) else []:
            tool = block.get("tool") if isinstance(block, dict) else None
            if isinstance(tool, dict) and block.get("type") in _TOOL_CHANGES:
                self.removed[str(tool.get("name") or "")] = block["type"] == "tool_removal"
        config = msg.get("output_config")
        effort = config.get("effort") if isinstance(config, dict) else None
        if isinstance(effort, str) and effort in ANTHROPIC_TO_OPENAI_EFFORT:
            self.effort = ANTHROPIC_TO_OPENAI_EFFORT[effort]

    def apply(self, req: Request) -> None:
        if self.effort is not None:
            req.effort = self.effort
        removed = {name for name, gone in self.removed.items() if gone}
        if removed:
            req.tools = [t for t in req.tools if t.name not in removed]
            names = ", ".join(sorted(removed))
            req.degraded.append(f"tools removed mid-conversation not offered at all: {names}")


_TOOL_CHANGES = ("tool_addition", "tool_removal")


def _read_choice(choice: object, req: Request) -> None:
    if not isinstance(choice, dict):
        return
    kind = choice.get("type")
    modes = {"auto": "auto", "any": "required", "none": "none", "tool": "tool"}
    if kind in modes:
        req.tool_choice = ToolChoice(modes[kind], choice.get("name"))  # type: ignore[arg-type]
    if choice.get("disable_parallel_tool_use") is True:
        req.parallel_tool_calls = False


def _read_thinking(body: dict[str, Any], req: Request) -> None:
    thinking = body.get("thinking")
    if isinstance(thinking, dict):
        if thinking.get("type") == "enabled" and isinstance(thinking.get("budget_tokens"), int):
            req.effort = effort_for_budget(thinking["budget_tokens"])
        elif thinking.get("type") == "disabled":
            req.thinking_off = True
        if thinking.get("display") == "omitted":
            req.thinking_hidden = True
        elif thinking.get("type") != "disabled":
            req.thinking_summary = "auto"  # thinking text is shown: ask OpenAI for summaries
    config = body.get("output_config")
    if isinstance(config, dict):
        effort = config.get("effort")
        if isinstance(effort, str) and effort in ANTHROPIC_TO_OPENAI_EFFORT:
            req.effort = ANTHROPIC_TO_OPENAI_EFFORT[effort]
        if "format" in config:
            req.degraded.append("output_config.format (structured output) dropped")


def _has_cache_marks(req: Request) -> bool:
    if any(t.cache for t in req.system) or any(t.cache for t in req.tools):
        return True
    return any(getattr(p, "cache", False) for m in req.messages for p in m.parts)


def _read_parts(content: object, req: Request) -> list[Part]:
    if isinstance(content, str):
        return [Text(content)]
    parts: list[Part] = []
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict):
            continue
        kind, cache = block.get("type"), "cache_control" in block
        if kind == "text":
            parts.append(Text(str(block.get("text") or ""), cache))
        elif kind == "image":
            image = _read_image(block.get("source"))
            if image is not None:
                image.cache = cache
                parts.append(image)
        elif kind == "tool_use":
            args = json.dumps(block.get("input") or {}, ensure_ascii=False)
            parts.append(ToolCall(str(block.get("id")), str(block.get("name")), args, cache=cache))
        elif kind == "tool_result":
            parts.append(
                ToolResult(
                    str(block.get("tool_use_id")),
                    [
                        p
                        for p in _read_parts(block.get("content") or "", req)
                        if isinstance(p, Text | Image)
                    ],
                    bool(block.get("is_error")),
                    cache=cache,
                )
            )
        elif kind == "thinking":
            parts.append(
                reasoning_from_signature(
                    str(block.get("thinking") or ""), str(block.get("signature") or "")
                )
            )
        elif kind in _TOOL_CHANGES:
            continue  # read by `_TurnControl`
        elif kind == "redacted_thinking":
            parts.append(Reasoning("", "anthropic", str(block.get("data") or ""), redacted=True))
        else:
            req.degraded.append(f"content block {kind!r} has no equivalent and was dropped")
    return parts


def _read_image(source: object) -> Image | None:
    if not isinstance(source, dict):
        return None
    if source.get("type") == "base64":
        return Image(media_type=source.get("media_type"), data=source.get("data"))
    if source.get("type") == "url":
        return Image(url=source.get("url"))
    return None


def write_request(req: Request, *, default_max_tokens: int = DEFAULT_MAX_TOKENS) -> dict[str, Any]:
    """Write an Anthropic Messages request body; notes what it drops in `req.degraded`."""
    body: dict[str, Any] = {"model": req.model}
    max_tokens = req.max_tokens or default_max_tokens
    body["max_tokens"] = max_tokens
    if req.system:
        body["system"] = [_text_block(t) for t in req.system]
    body["messages"] = _write_messages(req)
    if req.tools:
        body["tools"] = [_write_tool(t) for t in req.tools]
    choice = _write_choice(req)
    if choice:
        body["tool_choice"] = choice
    if req.stop:
        body["stop_sequences"] = req.stop
    if req.stream:
        body["stream"] = True
    if req.user:
        body["metadata"] = {"user_id": req.user}
    _write_reasoning_config(req, body)
    if req.temperature is not None or req.top_p is not None:
        req.degraded.append("temperature/top_p dropped: the Messages API no longer takes them")
    if req.cache_key and not _has_cache_marks(req):
        body["cache_control"] = dict(_CACHE)
    if req.metadata:
        req.degraded.append("metadata other than a user id dropped")
    return body


def _text_block(text: Text) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": text.text}
    if text.cache:
        block["cache_control"] = dict(_CACHE)
    return block


def _write_messages(req: Request) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for msg in req.messages:
        blocks = [b for p in msg.parts if (b := _write_part(p, req)) is not None]
        if not blocks:
            continue
        if msg.role == "system":
            out.append(
                {"role": "system", "content": "\n\n".join(b.get("text", "") for b in blocks)}
            )
        elif out and out[-1]["role"] == msg.role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": msg.role, "content": blocks})
    for entry in out:
        if entry["role"] == "user" and isinstance(entry["content"], list):
            # tool results must open the user turn that answers the calls
            entry["content"].sort(key=lambda b: b.get("type") != "tool_result")
    return out


def _write_part(part: Part, req: Request) -> dict[str, Any] | None:
    block: dict[str, Any]
    if isinstance(part, Text):
        return _text_block(part) if part.text else None
    if isinstance(part, Image):
        block = {"type": "image", "source": _image_source(part)}
    elif isinstance(part, ToolCall):
        block = {"type": "tool_use", "id": anthropic_id(part.id), "name": part.name}
        block["input"] = _tool_input(part)
    elif isinstance(part, ToolResult):
        content = [b for p in part.content if (b := _write_part(p, req)) is not None]
        block = {
            "type": "tool_result",
            "tool_use_id": anthropic_id(part.call_id),
            "content": content,
        }
        if part.is_error:
            block["is_error"] = True
    else:
        return _write_reasoning(part, req)
    if part.cache:
        block["cache_control"] = dict(_CACHE)
    return block


def _write_reasoning(part: Reasoning, req: Request) -> dict[str, Any] | None:
    if part.origin != "anthropic" or part.opaque is None:
        req.degraded.append("reasoning from another vendor dropped from the history")
        return None
    if part.redacted:
        return {"type": "redacted_thinking", "data": part.opaque}
    return {"type": "thinking", "thinking": part.text, "signature": part.opaque}


def _tool_input(call: ToolCall) -> Any:
    if call.custom:
        return {"input": call.arguments}
    try:
        value = json.loads(call.arguments or "{}")
    except ValueError:
        return {"input": custom_input(call.arguments)}
    return value if isinstance(value, dict) else {"input": value}


def _image_source(image: Image) -> dict[str, Any]:
    url = image.url or ""
    if url.startswith("data:") and ";base64," in url:
        media_type, _, data = url[5:].partition(";base64,")
        return {"type": "base64", "media_type": media_type, "data": data}
    if image.data is not None:
        return {"type": "base64", "media_type": image.media_type or "image/png", "data": image.data}
    return {"type": "url", "url": url}


def _write_tool(tool: Tool) -> dict[str, Any]:
    out: dict[str, Any] = {"name": tool.name, "input_schema": tool_schema(tool)}
    if tool.description:
        out["description"] = tool.description
    if tool.cache:
        out["cache_control"] = dict(_CACHE)
    return out


def _write_choice(req: Request) -> dict[str, Any] | None:
    choice = req.tool_choice
    out: dict[str, Any] | None = None
    if choice is not None:
        kind = {"auto": "auto", "required": "any", "none": "none", "tool": "tool"}[choice.mode]
        out = {"type": kind}
        if choice.mode == "tool":
            out["name"] = choice.name
    if req.parallel_tool_calls is False and req.tools:
        out = out or {"type": "auto"}
        if out["type"] != "none":
            out["disable_parallel_tool_use"] = True
    return out


def _write_reasoning_config(req: Request, body: dict[str, Any]) -> None:
    """OpenAI's effort becomes adaptive thinking at that effort, as Claude Code asks for it."""
    if req.thinking_off:
        body["thinking"] = {"type": "disabled"}
        return
    if req.effort is None:
        return
    body["output_config"] = {"effort": OPENAI_TO_ANTHROPIC_EFFORT.get(req.effort, "high")}
    last = next((m for m in reversed(req.messages) if m.role == "assistant"), None)
    if (
        last
        and any(isinstance(p, ToolCall) for p in last.parts)
        and not any(isinstance(p, Reasoning) and p.origin == "anthropic" for p in last.parts)
    ):
        req.degraded.append(
            "thinking off for this turn: the tool call before it carries no Anthropic thinking"
        )
        return
    body["thinking"] = {"type": "adaptive"}
    if req.thinking_hidden:
        body["thinking"]["display"] = "omitted"
    elif req.thinking_summary:
        body["thinking"]["display"] = "summarized"
