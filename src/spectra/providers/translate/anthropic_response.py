"""Anthropic Messages (non-streamed) responses read into, and written from, the neutral form."""

from __future__ import annotations

import json
from typing import Any

from spectra.providers.types import Usage

from .common import (
    anthropic_id,
    anthropic_stop,
    anthropic_usage,
    openai_signature,
    usage_from_anthropic,
)
from .context import TranslationContext
from .ir import Part, Reasoning, Response, Text, ToolCall


def read_response(body: dict[str, Any]) -> Response:
    parts: list[Part] = []
    for block in body.get("content") or []:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            parts.append(Text(str(block.get("text") or "")))
        elif kind == "tool_use":
            args = json.dumps(block.get("input") or {}, ensure_ascii=False)
            parts.append(ToolCall(str(block.get("id")), str(block.get("name")), args))
        elif kind == "thinking":
            parts.append(
                Reasoning(str(block.get("thinking") or ""), "anthropic", block.get("signature"))
            )
        elif kind == "redacted_thinking":
            parts.append(Reasoning("", "anthropic", block.get("data"), redacted=True))
    stop_sequence = body.get("stop_sequence")
    return Response(
        id=str(body.get("id") or ""),
        model=str(body.get("model") or ""),
        parts=parts,
        stop_reason=anthropic_stop(body.get("stop_reason")),
        usage=usage_from_anthropic(body.get("usage")) or Usage(),
        stop_sequence=stop_sequence if isinstance(stop_sequence, str) else None,
    )


def thinking_block(reasoning: Reasoning) -> dict[str, Any]:
    """The thinking block standing for reasoning; OpenAI's token rides in the signature."""
    if reasoning.origin == "openai" and reasoning.opaque:
        signature = openai_signature(reasoning.item_id or "", reasoning.opaque)
    else:
        signature = reasoning.opaque or ""
    if reasoning.redacted:
        return {"type": "redacted_thinking", "data": signature}
    return {"type": "thinking", "thinking": reasoning.text, "signature": signature}


def write_response(resp: Response, ctx: TranslationContext) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for part in resp.parts:
        if isinstance(part, Text):
            content.append({"type": "text", "text": part.text})
        elif isinstance(part, ToolCall):
            _, name, _, args = ctx.client_call(part)
            try:
                value = json.loads(args or "{}")
            except ValueError:
                value = {"input": args}
            content.append(
                {"type": "tool_use", "id": anthropic_id(part.id), "name": name, "input": value}
            )
        elif isinstance(part, Reasoning):
            content.append(thinking_block(part))
    return {
        "id": resp.id,
        "type": "message",
        "role": "assistant",
        "model": resp.model,
        "content": content,
        "stop_reason": resp.stop_reason,
        "stop_sequence": resp.stop_sequence,
        "usage": anthropic_usage(resp.usage),
    }
