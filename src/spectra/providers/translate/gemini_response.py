"""Gemini generateContent (non-streamed) responses read into, and written from, the neutral form."""

from __future__ import annotations

from typing import Any

from spectra.providers.types import Usage

from .context import TranslationContext
from .gemini_common import FINISH_OF_STOP, gemini_stop, gemini_usage, read_parts, usage_from_gemini
from .gemini_common import write_call as _write_call
from .ir import Part, Reasoning, Response, Text, ToolCall


def read_response(body: dict[str, Any]) -> Response:
    """Read the first candidate. A prompt blocked before any candidate is a refusal."""
    candidates = body.get("candidates") or []
    candidate = candidates[0] if candidates and isinstance(candidates[0], dict) else {}
    content = candidate.get("content") or {}
    parts = read_parts(content.get("parts"))
    usage, thoughts = usage_from_gemini(body.get("usageMetadata"))
    feedback = body.get("promptFeedback")
    blocked = not candidates and isinstance(feedback, dict) and feedback.get("blockReason")
    stop = gemini_stop(
        "SAFETY" if blocked else candidate.get("finishReason"),
        has_tool_call=any(isinstance(p, ToolCall) for p in parts),
    )
    return Response(
        id=str(body.get("responseId") or ""),
        model=str(body.get("modelVersion") or ""),
        parts=parts,
        stop_reason=stop,
        usage=usage or Usage(),
        reasoning_tokens=thoughts,
    )


def write_parts(parts: list[Part], ctx: TranslationContext) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, Text):
            out.append({"text": part.text})
        elif isinstance(part, Reasoning) and part.text:
            out.append({"text": part.text, "thought": True})
        elif isinstance(part, ToolCall):
            _, name, _, args = ctx.client_call(part)
            out.append(_write_call(part.id, name, args))
    return out


def write_response(resp: Response, ctx: TranslationContext) -> dict[str, Any]:
    candidate = {
        "content": {"role": "model", "parts": write_parts(resp.parts, ctx)},
        "finishReason": FINISH_OF_STOP[resp.stop_reason],
        "index": 0,
    }
    return {
        "candidates": [candidate],
        "usageMetadata": gemini_usage(resp.usage, resp.reasoning_tokens),
        "modelVersion": resp.model,
        "responseId": resp.id,
    }
