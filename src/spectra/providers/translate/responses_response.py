"""OpenAI Responses (non-streamed) responses read into, and written from, the neutral form."""

from __future__ import annotations

from typing import Any

from spectra.providers.types import Usage

from .common import (
    encrypted_for,
    openai_id,
    reasoning_from_encrypted,
    responses_status,
    responses_stop,
    responses_usage,
    usage_from_openai,
)
from .context import TranslationContext
from .ir import Part, Reasoning, Response, Text, ToolCall


def read_response(body: dict[str, Any]) -> Response:
    parts: list[Part] = []
    for item in body.get("output") or []:
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "message":
            for c in item.get("content") or []:
                if isinstance(c, dict) and c.get("type") in ("output_text", "refusal"):
                    parts.append(Text(str(c.get("text") or c.get("refusal") or "")))
        elif kind == "function_call":
            parts.append(
                ToolCall(
                    str(item.get("call_id")),
                    str(item.get("name")),
                    str(item.get("arguments") or ""),
                )
            )
        elif kind == "custom_tool_call":
            parts.append(
                ToolCall(
                    str(item.get("call_id")),
                    str(item.get("name")),
                    str(item.get("input") or ""),
                    True,
                )
            )
        elif kind == "reasoning":
            text = "\n\n".join(
                str(s.get("text") or "") for s in item.get("summary") or [] if isinstance(s, dict)
            )
            parts.append(
                reasoning_from_encrypted(text, item.get("encrypted_content"), item.get("id"))
            )
    usage, reasoning_tokens = usage_from_openai(body.get("usage"))
    return Response(
        id=str(body.get("id") or ""),
        model=str(body.get("model") or ""),
        parts=parts,
        stop_reason=responses_stop(body, has_tool_call=any(isinstance(p, ToolCall) for p in parts)),
        usage=usage or Usage(),
        created=int(body.get("created_at") or 0),
        reasoning_tokens=reasoning_tokens,
    )


def call_item(ctx: TranslationContext, call: ToolCall, status: str = "completed") -> dict[str, Any]:
    """A `function_call` / `custom_tool_call` output item as the caller declared the tool."""
    namespace, name, custom, args = ctx.client_call(call)
    call_id = openai_id(call.id)
    item: dict[str, Any] = {
        "id": f"fc_{call_id}",
        "call_id": call_id,
        "name": name,
        "status": status,
    }
    item |= (
        {"type": "custom_tool_call", "input": args}
        if custom
        else {"type": "function_call", "arguments": args}
    )
    if namespace:
        item["namespace"] = namespace
    return item


def reasoning_item(reasoning: Reasoning, index: int, status: str = "completed") -> dict[str, Any]:
    summary = [{"type": "summary_text", "text": reasoning.text}] if reasoning.text else []
    return {
        "id": reasoning.item_id or f"rs_{index}",
        "type": "reasoning",
        "summary": summary,
        "encrypted_content": encrypted_for(reasoning),
        "status": status,
    }


def message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": content,
    }


def envelope(
    resp_id: str,
    model: str,
    created: int,
    output: list[dict[str, Any]],
    status: str = "in_progress",
) -> dict[str, Any]:
    """The `response` object around an output list, as the SDK's `Response` model requires."""
    return {
        "id": resp_id,
        "object": "response",
        "created_at": created,
        "status": status,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "incomplete_details": None,
    }


def write_response(resp: Response, ctx: TranslationContext) -> dict[str, Any]:
    output: list[dict[str, Any]] = []
    for i, part in enumerate(resp.parts):
        if isinstance(part, Text):
            if output and output[-1]["type"] == "message":
                output[-1]["content"][0]["text"] += part.text
            else:
                output.append(message_item(f"msg_{resp.id}_{i}", part.text))
        elif isinstance(part, ToolCall):
            output.append(call_item(ctx, part))
        elif isinstance(part, Reasoning):
            output.append(reasoning_item(part, i))
    status, details = responses_status(resp.stop_reason)
    body = envelope(resp.id, resp.model, resp.created or ctx.created, output, status)
    body["incomplete_details"] = details
    body["usage"] = responses_usage(resp.usage, resp.reasoning_tokens)
    return body
