"""Gemini generateContent request bodies read into, and written from, the neutral form.

Gemini carries the model and streaming in the URL, not the body: the gateway passes them to
`translate_request` (or sets `model` and `stream` in the parsed body, which are read too). Calls without an id (older Gemini models) are paired with their
`functionResponse` by name and order; the id is made up from the position.
"""

from __future__ import annotations

import json
import mimetypes
from typing import Any, Literal

from .common import (
    EFFORT_BUDGET,
    TranslationRefusedError,
    effort_for_budget,
    text_of,
    tool_schema,
)
from .gemini_common import SKIP_SIGNATURE, call_args, read_call
from .ir import Image, Message, Part, Reasoning, Request, Text, Tool, ToolChoice, ToolResult
from .ir import ToolCall as Call

_MAX_STOPS = 5
_CHOICE_MODES = {"AUTO": "auto", "ANY": "required", "NONE": "none", "VALIDATED": "auto"}
_MODES_OF_CHOICE = {"auto": "AUTO", "required": "ANY", "none": "NONE", "tool": "ANY"}
_DROPPED_CONFIG = (
    "responseMimeType",
    "responseSchema",
    "responseJsonSchema",
    "topK",
    "seed",
    "presencePenalty",
    "frequencyPenalty",
    "responseLogprobs",
    "responseModalities",
    "speechConfig",
    "mediaResolution",
)
_LEVEL_EFFORT = {"minimal": "minimal", "low": "low", "medium": "medium", "high": "high"}


def read_request(body: dict[str, Any]) -> Request:
    """Parse a generateContent body. Refuses `candidateCount` > 1 and a cached content
    reference (state held at Google)."""
    config = body.get("generationConfig") or {}
    if isinstance(config.get("candidateCount"), int) and config["candidateCount"] > 1:
        raise TranslationRefusedError(
            "candidateCount > 1 asks for several answers; this model's protocol gives one",
            field="generationConfig.candidateCount",
        )
    if body.get("cachedContent"):
        raise TranslationRefusedError(
            "cachedContent refers to state stored at Google; send the whole content",
            field="cachedContent",
        )
    req = Request(model=str(body.get("model") or ""), stream=body.get("stream") is True)
    system = body.get("systemInstruction") or body.get("system_instruction")
    if isinstance(system, dict):
        req.system = [p for p in _parts(system.get("parts"), req, []) if isinstance(p, Text)]
    pending: list[tuple[str, str]] = []
    for content in body.get("contents") or []:
        if isinstance(content, dict):
            _read_content(content, req, pending)
    for tool in body.get("tools") or []:
        _read_tools(tool, req)
    _read_choice(body.get("toolConfig"), req)
    _read_config(config, req)
    if body.get("safetySettings"):
        req.degraded.append("safetySettings have no equivalent and were dropped")
    return req


def _read_content(content: dict[str, Any], req: Request, pending: list[tuple[str, str]]) -> None:
    role: Literal["user", "assistant"] = "assistant" if content.get("role") == "model" else "user"
    if role == "assistant":
        pending.clear()
    parts = _parts(content.get("parts"), req, pending, calls=len(req.messages))
    if role == "assistant":
        pending.extend((p.name, p.id) for p in parts if isinstance(p, Call))
    req.messages.append(Message(role, parts))


def _parts(raw: object, req: Request, pending: list[tuple[str, str]], calls: int = 0) -> list[Part]:
    out: list[Part] = []
    for part in raw if isinstance(raw, list) else []:
        if not isinstance(part, dict):
            continue
        if isinstance(part.get("text"), str):
            text = part["text"]
            out.append(Reasoning(text) if part.get("thought") is True else Text(text))
        elif isinstance(part.get("functionCall"), dict):
            out.append(read_call(part["functionCall"], calls * 100 + len(out)))
        elif isinstance(part.get("functionResponse"), dict):
            out.append(_read_result(part["functionResponse"], pending))
        elif isinstance(part.get("inlineData"), dict):
            data = part["inlineData"]
            mime = str(data.get("mimeType") or "")
            if mime.startswith("image/"):
                out.append(Image(media_type=mime, data=str(data.get("data") or "")))
            else:
                req.degraded.append(f"inline {mime or 'data'} has no equivalent and was dropped")
        elif isinstance(part.get("fileData"), dict):
            data = part["fileData"]
            out.append(Image(url=str(data.get("fileUri") or ""), media_type=data.get("mimeType")))
        else:
            kind = next(iter(part), "empty")
            req.degraded.append(f"part {kind!r} has no equivalent and was dropped")
    return out


def _read_result(response: dict[str, Any], pending: list[tuple[str, str]]) -> ToolResult:
    name = str(response.get("name") or "")
    call_id = response.get("id")
    if not isinstance(call_id, str) or not call_id:
        match = next((p for p in pending if p[0] == name), None)
        call_id = match[1] if match else f"call_{name}"
    pending[:] = [p for p in pending if p[1] != call_id]
    value = response.get("response")
    is_error = isinstance(value, dict) and "error" in value and "output" not in value
    if isinstance(value, dict) and len(value) == 1 and isinstance(next(iter(value.values())), str):
        text = next(iter(value.values()))
    else:
        text = json.dumps(value, ensure_ascii=False)
    return ToolResult(call_id, [Text(text)], is_error=is_error)


def _read_tools(tool: object, req: Request) -> None:
    if not isinstance(tool, dict):
        return
    for decl in tool.get("functionDeclarations") or []:
        if isinstance(decl, dict):
            schema = decl.get("parametersJsonSchema") or decl.get("parameters")
            req.tools.append(
                Tool(str(decl.get("name")), decl.get("description"), _json_schema(schema))
            )
    for kind in tool:
        if kind != "functionDeclarations":
            req.degraded.append(f"tool {kind!r} has no equivalent and was dropped")


def _json_schema(schema: object) -> dict[str, Any] | None:
    """Gemini's OpenAPI-style `parameters` (upper-case `type` values) as JSON Schema."""
    if isinstance(schema, dict):
        out = {k: _json_schema(v) if k != "enum" else v for k, v in schema.items()}
        if isinstance(schema.get("type"), str):
            out["type"] = schema["type"].lower()
        return out
    if isinstance(schema, list):
        return [_json_schema(v) for v in schema]  # type: ignore[return-value]
    return schema  # type: ignore[return-value]


def _read_choice(config: object, req: Request) -> None:
    calling = config.get("functionCallingConfig") if isinstance(config, dict) else None
    if not isinstance(calling, dict) or calling.get("mode") not in _CHOICE_MODES:
        return
    names = calling.get("allowedFunctionNames") or []
    if calling["mode"] == "ANY" and len(names) == 1:
        req.tool_choice = ToolChoice("tool", str(names[0]))
        return
    req.tool_choice = ToolChoice(_CHOICE_MODES[calling["mode"]])  # type: ignore[arg-type]
    if names:
        req.degraded.append("allowedFunctionNames narrowed to any tool")


def _read_config(config: dict[str, Any], req: Request) -> None:
    req.max_tokens = config.get("maxOutputTokens")
    req.temperature = config.get("temperature")
    req.top_p = config.get("topP")
    stops = config.get("stopSequences")
    req.stop = [s for s in stops or [] if isinstance(s, str)]
    thinking = config.get("thinkingConfig")
    if isinstance(thinking, dict):
        budget, level = thinking.get("thinkingBudget"), thinking.get("thinkingLevel")
        if budget == 0:
            req.thinking_off = True
        elif isinstance(budget, int) and budget > 0:
            req.effort = effort_for_budget(budget)
        elif isinstance(level, str) and level.lower() in _LEVEL_EFFORT:
            req.effort = _LEVEL_EFFORT[level.lower()]
        if thinking.get("includeThoughts") is True:
            req.thinking_summary = "auto"
        elif thinking.get("includeThoughts") is False and req.effort and not req.thinking_off:
            req.thinking_hidden = True  # as the Gemini writer says `display: "omitted"`
    for name in _DROPPED_CONFIG:
        if config.get(name) is not None:
            req.degraded.append(f"generationConfig.{name} has no equivalent and was dropped")


def write_request(req: Request) -> dict[str, Any]:
    """Write a generateContent body (no model, no stream flag: those go in the URL)."""
    body: dict[str, Any] = {"contents": _write_contents(req)}
    system = list(req.system)
    for msg in req.messages:
        if msg.role == "system":
            system.extend(p for p in msg.parts if isinstance(p, Text))
            req.degraded.append("a system message inside the conversation moved to the top")
    if system:
        body["systemInstruction"] = {"parts": [{"text": text_of(system)}]}
    if req.tools:
        body["tools"] = [{"functionDeclarations": [_write_tool(t) for t in req.tools]}]
    if req.tool_choice is not None:
        calling: dict[str, Any] = {"mode": _MODES_OF_CHOICE[req.tool_choice.mode]}
        if req.tool_choice.mode == "tool" and req.tool_choice.name:
            calling["allowedFunctionNames"] = [req.tool_choice.name]
        body["toolConfig"] = {"functionCallingConfig": calling}
    config: dict[str, Any] = {}
    if req.max_tokens is not None:
        config["maxOutputTokens"] = req.max_tokens
    if req.temperature is not None:
        config["temperature"] = req.temperature
    if req.top_p is not None:
        config["topP"] = req.top_p
    if req.stop:
        if len(req.stop) > _MAX_STOPS:
            req.degraded.append(f"stop sequences beyond the first {_MAX_STOPS} dropped")
        config["stopSequences"] = req.stop[:_MAX_STOPS]
    if req.thinking_off:
        config["thinkingConfig"] = {"thinkingBudget": 0}
    elif req.effort is not None:
        budget = EFFORT_BUDGET.get(req.effort, EFFORT_BUDGET["high"])
        config["thinkingConfig"] = {
            "thinkingBudget": budget,
            "includeThoughts": not req.thinking_hidden,
        }
    elif req.thinking_summary:
        config["thinkingConfig"] = {"includeThoughts": True}
    if config:
        body["generationConfig"] = config
    if req.parallel_tool_calls is False:
        req.degraded.append("parallel_tool_calls=false has no equivalent and was dropped")
    return body


def _write_contents(req: Request) -> list[dict[str, Any]]:
    names = {p.id: p.name for m in req.messages for p in m.parts if isinstance(p, Call)}
    out: list[dict[str, Any]] = []
    for msg in req.messages:
        if msg.role == "system":
            continue
        parts: list[dict[str, Any]] = []
        for part in msg.parts:
            parts.extend(_write_part(part, names, req))
        if parts:
            out.append({"role": "model" if msg.role == "assistant" else "user", "parts": parts})
    return out


def _write_part(part: Part, names: dict[str, str], req: Request) -> list[dict[str, Any]]:
    if isinstance(part, Text):
        return [{"text": part.text}] if part.text else []
    if isinstance(part, Image):
        return [_write_image(part, req)]
    if isinstance(part, Call):
        call = {"id": part.id, "name": part.name, "args": call_args(part.arguments)}
        return [{"functionCall": call, "thoughtSignature": SKIP_SIGNATURE}]
    if isinstance(part, ToolResult):
        text = "\n".join(p.text for p in part.content if isinstance(p, Text))
        name = names.get(part.call_id, part.call_id)
        result = {"error" if part.is_error else "output": text}
        out: list[dict[str, Any]] = [
            {"functionResponse": {"id": part.call_id, "name": name, "response": result}}
        ]
        images = [p for p in part.content if isinstance(p, Image)]
        if images:
            req.degraded.append("images inside tool results moved beside the result")
            out.extend(_write_image(p, req) for p in images)
        return out
    if part.text:
        req.degraded.append("reasoning in the history dropped: Gemini cannot replay it")
    return []


def _write_image(image: Image, req: Request) -> dict[str, Any]:
    if image.data is not None:
        return {"inlineData": {"mimeType": image.media_type or "image/png", "data": image.data}}
    url = image.url or ""
    if url.startswith("data:") and ";base64," in url:
        head, data = url[5:].split(";base64,", 1)
        return {"inlineData": {"mimeType": head or "image/png", "data": data}}
    req.degraded.append(
        "an image URL is passed as fileData, which Gemini fetches only for URLs it supports"
    )
    mime = image.media_type or mimetypes.guess_type(url)[0] or "image/jpeg"
    return {"fileData": {"mimeType": mime, "fileUri": url}}


def _write_tool(tool: Tool) -> dict[str, Any]:
    decl: dict[str, Any] = {"name": tool.name}
    if tool.description:
        decl["description"] = tool.description
    decl["parametersJsonSchema"] = tool_schema(tool)
    return decl
