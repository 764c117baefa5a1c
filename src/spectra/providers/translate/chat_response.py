"""OpenAI Chat Completions (non-streamed) responses read into, and written from, the neutral form."""

from __future__ import annotations

from typing import Any

from spectra.providers.types import Usage

from .common import CHAT_FINISH, chat_stop, chat_usage, openai_id, usage_from_openai
from .context import TranslationContext
from .ir import Part, Reasoning, Response, Text, ToolCall


def read_response(body: dict[str, Any]) -> Response:
    choices = body.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") or {}
    parts: list[Part] = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        parts.append(Reasoning(reasoning))
    for key in ("content", "refusal"):
        if isinstance(message.get(key), str) and message[key]:
            parts.append(Text(message[key]))
    for call in message.get("tool_calls") or []:
        if isinstance(call, dict) and isinstance(call.get("function"), dict):
            fn = call["function"]
            parts.append(
                ToolCall(str(call.get("id")), str(fn.get("name")), str(fn.get("arguments") or ""))
            )
        elif isinstance(call, dict) and isinstance(call.get("custom"), dict):
            fn = call["custom"]
            parts.append(
                ToolCall(str(call.get("id")), str(fn.get("name")), str(fn.get("input") or ""), True)
            )
    usage, reasoning_tokens = usage_from_openai(body.get("usage"))
    return Response(
        id=str(body.get("id") or ""),
        model=str(body.get("model") or ""),
        parts=parts,
        stop_reason=chat_stop(choice.get("finish_reason")),
        usage=usage or Usage(),
        created=int(body.get("created") or 0),
        reasoning_tokens=reasoning_tokens,
    )


def tool_call(ctx: TranslationContext, call: ToolCall, index: int | None = None) -> dict[str, Any]:
    """A chat `tool_calls` entry as the caller declared the tool (custom or function)."""
    _, name, custom, args = ctx.client_call(call)
    out: dict[str, Any] = {} if index is None else {"index": index}
    out["id"] = openai_id(call.id)
    if custom:
        out |= {"type": "custom", "custom": {"name": name, "input": args}}
    else:
        out |= {"type": "function", "function": {"name": name, "arguments": args}}
    return out


def write_response(resp: Response, ctx: TranslationContext) -> dict[str, Any]:
    text = "".join(p.text for p in resp.parts if isinstance(p, Text))
    calls = [tool_call(ctx, p) for p in resp.parts if isinstance(p, ToolCall)]
    reasoning = "".join(p.text for p in resp.parts if isinstance(p, Reasoning))
    message: dict[str, Any] = {"role": "assistant", "content": text or None, "refusal": None}
    if calls:
        message["tool_calls"] = calls
    if reasoning:
        message["reasoning_content"] = reasoning
    return {
        "id": resp.id,
        "object": "chat.completion",
        "created": resp.created or ctx.created,
        "model": resp.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": CHAT_FINISH[resp.stop_reason],
                "logprobs": None,
            }
        ],
        "usage": chat_usage(resp.usage, resp.reasoning_tokens),
    }
