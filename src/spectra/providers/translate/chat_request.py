"""OpenAI Chat Completions request bodies read into, and written from, the neutral form."""

from __future__ import annotations

from typing import Any

from .common import (
    TranslationRefusedError,
    custom_arguments,
    openai_id,
    short_user,
    text_of,
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

_MAX_STOPS = 4
_DROPPED_FIELDS = (
    "response_format",
    "logprobs",
    "top_logprobs",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "logit_bias",
    "modalities",
    "audio",
    "prediction",
    "web_search_options",
    "service_tier",
    "verbosity",
)


def read_request(body: dict[str, Any]) -> Request:
    """Parse a Chat Completions request body. Refuses `n` > 1: the others give one answer."""
    if isinstance(body.get("n"), int) and body["n"] > 1:
        raise TranslationRefusedError(
            "n > 1 asks for several answers; this model's protocol gives one", field="n"
        )
    req = Request(model=str(body.get("model") or ""))
    for msg in body.get("messages") or []:
        if isinstance(msg, dict):
            _read_message(msg, req)
    for tool in body.get("tools") or []:
        _read_tool(tool, req)
    _read_choice(body.get("tool_choice"), req)
    req.parallel_tool_calls = body.get("parallel_tool_calls")
    req.max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    req.temperature = body.get("temperature")
    req.top_p = body.get("top_p")
    stop = body.get("stop")
    req.stop = [stop] if isinstance(stop, str) else [s for s in stop or [] if isinstance(s, str)]
    req.stream = bool(body.get("stream"))
    user = body.get("user") or body.get("safety_identifier")
    req.user = user if isinstance(user, str) else None
    if isinstance(body.get("metadata"), dict):
        req.metadata = {k: str(v) for k, v in body["metadata"].items()}
    effort = body.get("reasoning_effort")
    if isinstance(effort, str):
        req.effort = effort
        req.thinking_off = effort == "none"
    key = body.get("prompt_cache_key")
    req.cache_key = key if isinstance(key, str) else None
    for name in _DROPPED_FIELDS:
        if body.get(name) is not None:
            req.degraded.append(f"{name} has no equivalent and was dropped")
    return req


def _content_parts(content: object, req: Request) -> list[Part]:
    if isinstance(content, str):
        return [Text(content)] if content else []
    parts: list[Part] = []
    for item in content if isinstance(content, list) else []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind in ("text", "refusal"):
            parts.append(Text(str(item.get(kind) or "")))
        elif kind == "image_url" and isinstance(item.get("image_url"), dict):
            parts.append(
                Image(url=item["image_url"].get("url"), detail=item["image_url"].get("detail"))
            )
        else:
            req.degraded.append(f"content part {kind!r} has no equivalent and was dropped")
    return parts


def _read_message(msg: dict[str, Any], req: Request) -> None:
    role = msg.get("role")
    if role in ("system", "developer"):
        texts = [p for p in _content_parts(msg.get("content"), req) if isinstance(p, Text)]
        if not req.messages:
            req.system.extend(texts)
        else:
            req.messages.append(Message("system", list(texts)))
    elif role == "user":
        req.messages.append(Message("user", _content_parts(msg.get("content"), req)))
    elif role == "assistant":
        parts: list[Part] = []
        reasoning = msg.get("reasoning_content")
        if isinstance(reasoning, str) and reasoning:
            parts.append(Reasoning(reasoning))
        parts.extend(_content_parts(msg.get("content"), req))
        for call in msg.get("tool_calls") or []:
            if not isinstance(call, dict):
                continue
            if call.get("type") == "custom" and isinstance(call.get("custom"), dict):
                fn = call["custom"]
                parts.append(
                    ToolCall(
                        str(call.get("id")), str(fn.get("name")), str(fn.get("input") or ""), True
                    )
                )
            elif isinstance(call.get("function"), dict):
                fn = call["function"]
                parts.append(
                    ToolCall(
                        str(call.get("id")), str(fn.get("name")), str(fn.get("arguments") or "")
                    )
                )
        req.messages.append(Message("assistant", parts))
    elif role == "tool":
        content = [
            p for p in _content_parts(msg.get("content"), req) if isinstance(p, Text | Image)
        ]
        result = ToolResult(str(msg.get("tool_call_id")), content)
        last = req.messages[-1] if req.messages else None
        if (
            last
            and last.role == "user"
            and last.parts
            and all(isinstance(p, ToolResult) for p in last.parts)
        ):
            last.parts.append(result)
        else:
            req.messages.append(Message("user", [result]))
    else:
        req.degraded.append(f"message role {role!r} has no equivalent and was dropped")


def _read_tool(tool: object, req: Request) -> None:
    if not isinstance(tool, dict):
        return
    if tool.get("type") == "function" and isinstance(tool.get("function"), dict):
        fn = tool["function"]
        req.tools.append(
            Tool(
                str(fn.get("name")),
                fn.get("description"),
                fn.get("parameters"),
                strict=fn.get("strict"),
            )
        )
    elif tool.get("type") == "custom" and isinstance(tool.get("custom"), dict):
        fn = tool["custom"]
        req.tools.append(
            Tool(str(fn.get("name")), fn.get("description"), None, True, fn.get("format"))
        )
    else:
        req.degraded.append(f"tool type {tool.get('type')!r} dropped")


def _read_choice(choice: object, req: Request) -> None:
    if choice in ("auto", "none", "required"):
        req.tool_choice = ToolChoice(choice)
    elif isinstance(choice, dict):
        inner = choice.get("function") or choice.get("custom")
        if isinstance(inner, dict) and isinstance(inner.get("name"), str):
            req.tool_choice = ToolChoice("tool", inner["name"])
        else:
            req.tool_choice = ToolChoice("auto")
            req.degraded.append("tool_choice narrowed to auto")


def write_request(req: Request) -> dict[str, Any]:
    """Write a Chat Completions request body; notes what it drops in `req.degraded`."""
    body: dict[str, Any] = {"model": req.model, "messages": _write_messages(req)}
    if req.tools:
        body["tools"] = [_write_tool(t) for t in req.tools]
        if req.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = req.parallel_tool_calls
    if req.tool_choice is not None:
        mode = req.tool_choice.mode
        body["tool_choice"] = (
            {"type": "function", "function": {"name": req.tool_choice.name}}
            if mode == "tool"
            else mode
        )
    if req.max_tokens is not None:
        body["max_completion_tokens"] = req.max_tokens
    for name in ("temperature", "top_p"):
        if getattr(req, name) is not None:
            body[name] = getattr(req, name)
    if req.stop:
        if len(req.stop) > _MAX_STOPS:
            req.degraded.append(f"stop sequences beyond the first {_MAX_STOPS} dropped")
        body["stop"] = req.stop[:_MAX_STOPS]
    if req.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    if req.user:
        body["user"] = short_user(req.user)
    if req.metadata:
        body["metadata"] = dict(req.metadata)
    if req.effort and not req.thinking_off:
        body["reasoning_effort"] = req.effort
    if req.cache_key:
        body["prompt_cache_key"] = req.cache_key
    if req.thinking_summary:
        req.degraded.append("reasoning summaries are not returned by Chat Completions")
    return body


def _write_messages(req: Request) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if req.system:
        out.append({"role": "system", "content": text_of(req.system)})
    for msg in req.messages:
        if msg.role == "system":
            out.append(
                {
                    "role": "system",
                    "content": text_of([p for p in msg.parts if isinstance(p, Text)]),
                }
            )
        elif msg.role == "assistant":
            _write_assistant(msg, out, req)
        else:
            _write_user(msg, out, req)
    return out


def _write_assistant(msg: Message, out: list[dict[str, Any]], req: Request) -> None:
    texts = [p.text for p in msg.parts if isinstance(p, Text)]
    calls = [p for p in msg.parts if isinstance(p, ToolCall)]
    if any(isinstance(p, Reasoning) for p in msg.parts):
        req.degraded.append("reasoning in the history dropped: Chat Completions cannot replay it")
    entry: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        entry["tool_calls"] = [
            {
                "id": openai_id(c.id),
                "type": "function",
                "function": {"name": c.name, "arguments": _arguments(c)},
            }
            for c in calls
        ]
    if texts or calls:
        out.append(entry)


def _arguments(call: ToolCall) -> str:
    return custom_arguments(call.arguments) if call.custom else call.arguments or "{}"


def _write_user(msg: Message, out: list[dict[str, Any]], req: Request) -> None:
    content: list[dict[str, Any]] = []
    for part in msg.parts:
        if isinstance(part, ToolResult):
            text = "\n".join(p.text for p in part.content if isinstance(p, Text))
            if any(isinstance(p, Image) for p in part.content):
                req.degraded.append("images inside tool results moved to a user message")
                content.extend(_image_part(p) for p in part.content if isinstance(p, Image))
            if part.is_error:
                req.degraded.append("the error flag of a tool result dropped")
            out.append({"role": "tool", "tool_call_id": openai_id(part.call_id), "content": text})
        elif isinstance(part, Text):
            content.append({"type": "text", "text": part.text})
        elif isinstance(part, Image):
            content.append(_image_part(part))
    if len(content) == 1 and content[0]["type"] == "text":
        out.append({"role": "user", "content": content[0]["text"]})
    elif content:
        out.append({"role": "user", "content": content})


def _image_part(image: Image) -> dict[str, Any]:
    url = image.url if image.url else f"data:{image.media_type};base64,{image.data}"
    inner: dict[str, Any] = {"url": url}
    if image.detail:
        inner["detail"] = image.detail
    return {"type": "image_url", "image_url": inner}


def _write_tool(tool: Tool) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": tool.name}
    if tool.description:
        fn["description"] = tool.description
    fn["parameters"] = tool_schema(tool)
    if tool.strict is not None and not tool.custom:
        fn["strict"] = tool.strict
    return {"type": "function", "function": fn}
