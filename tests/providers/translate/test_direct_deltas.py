"""Plain deltas written straight from their client template (`SSEStreamTranslator`'s direct
path, which skips the neutral and client events) are byte for byte what the general path
writes (`StreamTranslator`, then each client event serialised whole), for text, thinking and
tool-argument deltas, whatever they hold and however the upstream bytes are split."""

from __future__ import annotations

import itertools
import json
from typing import Any
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spectra.providers.translate import (
    SSEStreamTranslator,
    StreamTranslator,
    encode_sse,
    translate_request,
)
from spectra.providers.types import WireProtocol

from .support import ANTHROPIC, CHAT, RESPONSES, JsonDict
from .test_streams import CLIENT_BODIES, PAIRS

PIECES = st.lists(st.text(min_size=1), min_size=1, max_size=4)


def _anthropic(thinking: list[str], text: list[str], args: list[str]) -> list[JsonDict]:
    def delta(index: int, kind: str, key: str, value: str) -> JsonDict:
        return {"type": "content_block_delta", "index": index, "delta": {"type": kind, key: value}}

    usage = {"input_tokens": 10, "output_tokens": 1}
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude"}
    tool = {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {}}
    return [
        {"type": "message_start", "message": message | {"content": [], "usage": usage}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking"}},
        *[delta(0, "thinking_delta", "thinking", t) for t in thinking],
        delta(0, "signature_delta", "signature", "SIG=="),
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        *[delta(1, "text_delta", "text", t) for t in text],
        {"type": "content_block_stop", "index": 1},
        {"type": "content_block_start", "index": 2, "content_block": tool},
        *[delta(2, "input_json_delta", "partial_json", a) for a in args],
        {"type": "content_block_stop", "index": 2},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": usage},
        {"type": "message_stop"},
    ]


def _chat(thinking: list[str], text: list[str], args: list[str]) -> list[JsonDict]:
    def chunk(delta: JsonDict, finish: str | None = None) -> JsonDict:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt"} | {
            "choices": [choice],
            "usage": None,
        }

    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "Bash"}}
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    return [
        chunk({"role": "assistant", "content": ""}),
        *[chunk({"reasoning_content": t}) for t in thinking],
        *[chunk({"content": t}) for t in text],
        chunk({"tool_calls": [call]}),
        *[chunk({"tool_calls": [{"index": 0, "function": {"arguments": a}}]}) for a in args],
        chunk({}, "tool_calls"),
        chunk({}) | {"choices": [], "usage": usage},
    ]


def _responses(thinking: list[str], text: list[str], args: list[str]) -> list[JsonDict]:
    resp = {"id": "resp_1", "object": "response", "created_at": 1, "model": "gpt", "output": []}
    call = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "Bash"}
    usage = {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    message = {"type": "message", "id": "msg_1", "role": "assistant", "content": []}

    def delta(kind: str, index: int, value: str) -> JsonDict:
        return {"type": kind, "output_index": index, "item_id": "x", "delta": value}

    def item(kind: str, index: int, value: JsonDict) -> JsonDict:
        return {"type": f"response.output_item.{kind}", "output_index": index, "item": value}

    reasoning = {"type": "reasoning", "id": "rs_1", "summary": []}
    return [
        {"type": "response.created", "response": resp | {"status": "in_progress"}},
        item("added", 0, reasoning),
        *[delta("response.reasoning_summary_text.delta", 0, t) for t in thinking],
        item("done", 0, reasoning),
        item("added", 1, message),
        {"type": "response.content_part.added", "output_index": 1, "content_index": 0},
        *[delta("response.output_text.delta", 1, t) for t in text],
        item("done", 1, message),
        item("added", 2, call),
        *[delta("response.function_call_arguments.delta", 2, a) for a in args],
        item("done", 2, call | {"arguments": "".join(args)}),
        {"type": "response.completed", "response": resp | {"status": "completed", "usage": usage}},
    ]


UPSTREAM = {ANTHROPIC: _anthropic, CHAT: _chat, RESPONSES: _responses}


def _wire(upstream: WireProtocol, events: list[JsonDict]) -> bytes:
    def frame(event: JsonDict) -> str:
        data = "data: " + json.dumps(event, ensure_ascii=False) + "\n\n"
        return data if upstream is CHAT else f"event: {event['type']}\n" + data

    tail = "data: [DONE]\n\n" if upstream is CHAT else ""
    return ("".join(frame(e) for e in events) + tail).encode()


def _general(ctx: Any, events: list[JsonDict]) -> bytes:
    """Each client event serialised whole as soon as it is made (a Responses encoder goes on
    to change the items its events hold)."""
    translator = StreamTranslator(ctx)
    out = [encode_sse(ctx.client, [dict(e) for e in translator.feed(event)]) for event in events]
    return b"".join(out) + encode_sse(ctx.client, translator.finish(), done=True)


def _check(
    upstream: WireProtocol,
    client: WireProtocol,
    pieces: tuple[list[str], list[str], list[str]],
    cuts: list[int],
) -> None:
    ctx = translate_request(CLIENT_BODIES[client], client=client, upstream=upstream).context
    events = UPSTREAM[upstream](*pieces)
    raw = _wire(upstream, events)
    bounds = sorted({0, len(raw), *(c % (len(raw) + 1) for c in cuts)})
    translator = SSEStreamTranslator(ctx)
    general = StreamTranslator.feed_sse
    with mock.patch.object(StreamTranslator, "feed_sse", autospec=True, side_effect=general) as spy:
        out = b"".join(translator.feed(raw[a:b]) for a, b in itertools.pairwise(bounds))
        out += translator.finish()
    assert out == _general(ctx, events)
    deltas = sum(len(p) for p in pieces)
    # each run of deltas takes the direct path, all but the one that opens a chat block (and,
    # for a Responses client, the first thinking delta, which also opens its summary part)
    opening = 4 if client is RESPONSES else 3
    assert len(events) - spy.call_count >= deltas - opening


@pytest.mark.parametrize(("upstream", "client"), PAIRS, ids=lambda p: p.value)
@given(thinking=PIECES, text=PIECES, args=PIECES, cuts=st.lists(st.integers(0, 1 << 16)))
def test_direct_deltas_equal_the_general_path(
    upstream: WireProtocol,
    client: WireProtocol,
    thinking: list[str],
    text: list[str],
    args: list[str],
    cuts: list[int],
) -> None:
    _check(upstream, client, (thinking, text, args), cuts)


@pytest.mark.parametrize(("upstream", "client"), PAIRS, ids=lambda p: p.value)
def test_direct_deltas_split_byte_by_byte(upstream: WireProtocol, client: WireProtocol) -> None:
    pieces = (["Let me ", "see"], ['Hé "quoted"\\', "\n☃ \u2028"], ['{"command": ', '"ls"}'])
    _check(upstream, client, pieces, list(range(1 << 12)))
