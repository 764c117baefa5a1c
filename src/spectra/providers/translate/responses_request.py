"""OpenAI Responses request bodies read into, and written from, the neutral form.

Codex's `additional_tools` input item and `namespace` tools are flattened into plain tools
(`functions.exec` becomes `exec`, any other namespace `ns__name`); `Request.namespaces`
remembers the way back for the answer.
"""

from __future__ import annotations

from typing import Any

from .common import (
    TranslationRefusedError,
    encrypted_for,
    openai_id,
    reasoning_from_encrypted,
    short_user,
    text_of,
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

_DEFAULT_NAMESPACE = "functions"
_MAX_NAME = 64
_DROPPED_FIELDS = (
    "text",
    "truncation",
    "top_logprobs",
    "max_tool_calls",
    "service_tier",
    "background",
)


def flat_name(namespace: str | None, name: str) -> str:
    if not namespace or namespace == _DEFAULT_NAMESPACE:
        return name
    return f"{namespace}__{name}"[:_MAX_NAME]


def read_request(body: dict[str, Any]) -> Request:
    """Parse a Responses request body. Refuses server-side state, which only OpenAI holds."""
    for name in ("previous_response_id", "conversation"):
        if body.get(name):
            raise TranslationRefusedError(
                f"{name} refers to state stored at OpenAI; resend the whole input", field=name
            )
    req = Request(model=str(body.get("model") or ""))
    if isinstance(body.get("instructions"), str) and body["instructions"]:
        req.system.append(Text(body["instructions"]))
    items = body.get("input")
    if isinstance(items, str):
        req.messages.append(Message("user", [Text(items)]))
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            _read_item(item, req)
    _read_tools(body.get("tools") or [], None, req)
    _read_choice(body.get("tool_choice"), req)
    req.parallel_tool_calls = body.get("parallel_tool_calls")
    req.max_tokens = body.get("max_output_tokens")
    req.temperature = body.get("temperature")
    req.top_p = body.get("top_p")
    req.stream = bool(body.get("stream"))
    user = body.get("user") or body.get("safety_identifier")
    req.user = user if isinstance(user, str) else None
    if isinstance(body.get("metadata"), dict):
        req.metadata = {k: str(v) for k, v in body["metadata"].items()}
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict):
        if isinstance(reasoning.get("effort"), str):
            req.effort = reasoning["effort"]
            req.thinking_off = reasoning["effort"] == "none"
        if isinstance(reasoning.get("summary"), str):
            req.thinking_summary = reasoning["summary"]
        elif req.effort and not req.thinking_off:
            # reasoning without summaries: the caller is shown no thinking text (Anthropic
            # `display: "omitted"`, which the Responses writer turns into exactly this)
            req.thinking_hidden = True
    key = body.get("prompt_cache_key")
    req.cache_key = key if isinstance(key, str) else None
    for name in _DROPPED_FIELDS:
        if name in body:
            req.degraded.append(f"{name} has no equivalent and was dropped")
    return req


def _read_tools(tools: list[Any], namespace: str | None, req: Request) -> None:
    for tool in tools:
        if not isinstance(tool, dict):
            continue
        kind, name = tool.get("type"), str(tool.get("name") or "")
        if kind == "namespace":
            _read_tools(tool.get("tools") or [], name, req)
            continue
        if kind not in ("function", "custom"):
            req.degraded.append(f"hosted tool {kind!r} dropped")
            continue
        flat = flat_name(namespace, name)
        if namespace:
            req.namespaces[flat] = (namespace, name)
        req.tools.append(
            Tool(
                flat,
                tool.get("description"),
                tool.get("parameters") if kind == "function" else None,
                kind == "custom",
                tool.get("format"),
                tool.get("strict"),
            )
        )


def _read_choice(choice: object, req: Request) -> None:
    if choice in ("auto", "none", "required"):
        req.tool_choice = ToolChoice(choice)
    elif isinstance(choice, dict) and choice.get("type") in ("function", "custom"):
        req.tool_choice = ToolChoice("tool", str(choice.get("name")))
    elif isinstance(choice, dict):
        req.tool_choice = ToolChoice("auto")
        req.degraded.append("tool_choice narrowed to auto")


def _content(content: object, req: Request) -> list[Part]:
    if isinstance(content, str):
        return [Text(content)] if content else []
    parts: list[Part] = []
    for item in content if isinstance(content, list) else []:
        kind = item.get("type") if isinstance(item, dict) else None
        if kind in ("input_text", "output_text", "text"):
            parts.append(Text(str(item.get("text") or "")))
        elif kind == "refusal":
            parts.append(Text(str(item.get("refusal") or "")))
        elif kind == "input_image" and item.get("image_url"):
            parts.append(Image(url=item["image_url"], detail=item.get("detail")))
        else:
            req.degraded.append(f"content part {kind!r} has no equivalent and was dropped")
    return parts


def _append(req: Request, role: Any, parts: list[Part]) -> None:
    last = req.messages[-1] if req.messages else None
    if last is not None and last.role == role and role != "system":
        last.parts.extend(parts)
    else:
        req.messages.append(Message(role, parts))


def _read_item(item: dict[str, Any], req: Request) -> None:
    kind = item.get("type", "message")
    if kind == "message":
        role = item.get("role")
        parts = _content(item.get("content"), req)
        if role in ("system", "developer"):
            texts = [p for p in parts if isinstance(p, Text)]
            if req.messages:
                req.messages.append(Message("system", list(texts)))
            else:
                req.system.extend(texts)
        elif role in ("user", "assistant"):
            _append(req, role, parts)
    elif kind in ("function_call", "custom_tool_call"):
        custom = kind == "custom_tool_call"
        name = flat_name(item.get("namespace"), str(item.get("name")))
        args = str(item.get("input" if custom else "arguments") or "")
        _append(req, "assistant", [ToolCall(str(item.get("call_id")), name, args, custom)])
    elif kind in ("function_call_output", "custom_tool_call_output"):
        output = item.get("output")
        content = [p for p in _content(output, req) if isinstance(p, Text | Image)]
        result = ToolResult(
            str(item.get("call_id")), content, custom=kind == "custom_tool_call_output"
        )
        _append(req, "user", [result])
    elif kind == "reasoning":
        text = "\n\n".join(
            str(s.get("text") or "") for s in item.get("summary") or [] if isinstance(s, dict)
        )
        _append(
            req,
            "assistant",
            [reasoning_from_encrypted(text, item.get("encrypted_content"), item.get("id"))],
        )
    elif kind == "additional_tools":
        _read_tools(item.get("tools") or [], None, req)
    elif kind == "configuration_update":
        reasoning = item.get("reasoning")
        if isinstance(reasoning, dict) and isinstance(reasoning.get("effort"), str):
            req.effort = reasoning["effort"]
    else:
        req.degraded.append(f"input item {kind!r} has no equivalent and was dropped")


def write_request(req: Request) -> dict[str, Any]:
    """Write a Responses request body (stateless: `store` false); notes drops in `req.degraded`."""
    body: dict[str, Any] = {"model": req.model, "store": False}
    if req.system:
        body["instructions"] = text_of(req.system)
    body["input"] = [i for m in req.messages for i in _write_message(m, req)]
    if req.tools:
        body["tools"] = [_write_tool(t) for t in req.tools]
        if req.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = req.parallel_tool_calls
    if req.tool_choice is not None:
        choice = req.tool_choice
        body["tool_choice"] = (
            {"type": "function", "name": choice.name} if choice.mode == "tool" else choice.mode
        )
    if req.max_tokens is not None:
        body["max_output_tokens"] = req.max_tokens
    for name in ("temperature", "top_p"):
        if getattr(req, name) is not None:
            body[name] = getattr(req, name)
    if req.stop:
        req.degraded.append("stop sequences dropped: Responses has none")
    if req.stream:
        body["stream"] = True
    if req.user:
        body["user"] = short_user(req.user)
    if req.metadata:
        body["metadata"] = dict(req.metadata)
    if req.effort and not req.thinking_off:
        body["reasoning"] = {"effort": req.effort}
        if not req.thinking_hidden:
            body["reasoning"]["summary"] = req.thinking_summary or "auto"
        body["include"] = ["reasoning.encrypted_content"]
    if req.cache_key:
        body["prompt_cache_key"] = req.cache_key
    return body


def _write_message(msg: Message, req: Request) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    content: list[dict[str, Any]] = []
    role = "developer" if msg.role == "system" else msg.role

    def flush() -> None:
        if not content:
            return
        if msg.role == "assistant":  # earlier output goes back as plain text
            text = "".join(c["text"] for c in content if c["type"] == "input_text")
            items.append({"type": "message", "role": role, "content": text})
        else:
            items.append({"type": "message", "role": role, "content": list(content)})
        content.clear()

    for part in msg.parts:
        if isinstance(part, Text):
            content.append({"type": "input_text", "text": part.text})
        elif isinstance(part, Image):
            content.append(_image(part))
        else:
            flush()
            item = _write_item(part, req)
            if item is not None:
                items.append(item)
    flush()
    return items


def _image(image: Image) -> dict[str, Any]:
    url = image.url if image.url else f"data:{image.media_type};base64,{image.data}"
    return {"type": "input_image", "image_url": url, "detail": image.detail or "auto"}


def _write_item(part: ToolCall | ToolResult | Reasoning, req: Request) -> dict[str, Any] | None:
    if isinstance(part, ToolCall):
        if part.custom:
            return {
                "type": "custom_tool_call",
                "call_id": openai_id(part.id),
                "name": part.name,
                "input": part.arguments,
            }
        return {
            "type": "function_call",
            "call_id": openai_id(part.id),
            "name": part.name,
            "arguments": part.arguments or "{}",
        }
    if isinstance(part, ToolResult):
        if part.is_error:
            req.degraded.append("the error flag of a tool result dropped")
        output: str | list[dict[str, Any]] = "\n".join(
            p.text for p in part.content if isinstance(p, Text)
        )
        if any(isinstance(p, Image) for p in part.content):
            output = [
                _image(p) if isinstance(p, Image) else {"type": "input_text", "text": p.text}
                for p in part.content
            ]
        kind = (
            "custom_tool_call_output" if _is_custom(part.call_id, req) else "function_call_output"
        )
        return {"type": kind, "call_id": openai_id(part.call_id), "output": output}
    encrypted = encrypted_for(part)
    if part.origin != "openai" or not part.item_id:
        req.degraded.append("reasoning from another vendor dropped from the history")
        return None
    summary = [{"type": "summary_text", "text": part.text}] if part.text else []
    return {
        "type": "reasoning",
        "id": part.item_id,
        "summary": summary,
        "encrypted_content": encrypted,
    }


def _is_custom(call_id: str, req: Request) -> bool:
    return any(
        isinstance(p, ToolCall) and p.custom and p.id == call_id
        for m in req.messages
        for p in m.parts
    )


def _write_tool(tool: Tool) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "custom" if tool.custom else "function", "name": tool.name}
    if tool.description:
        out["description"] = tool.description
    if tool.custom:
        if tool.format:
            out["format"] = tool.format
    else:
        out["parameters"] = tool.parameters or {"type": "object", "properties": {}}
        out["strict"] = bool(tool.strict)
    return out
