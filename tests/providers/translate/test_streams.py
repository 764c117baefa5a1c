"""Streamed answers translated event by event, checked by folding the output with each
client SDK's own stream accumulator (what the caller's SDK would build from it)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai.types.responses import ResponseFailedEvent
from tests.fakes.upstream import Reply, ToolCall, anthropic_events, chat_events, responses_events

from spectra.providers import anthropic as anthropic_wire
from spectra.providers import openai as openai_wire
from spectra.providers.sse import SSEParser
from spectra.providers.translate import (
    SSEStreamTranslator,
    StreamTranslator,
    TranslationContext,
    translate_request,
)
from spectra.providers.types import Usage, WireProtocol

from .support import (
    ANTHROPIC,
    CHAT,
    RESPONSES,
    JsonDict,
    anthropic_final,
    chat_final,
    responses_final,
)

REPLY = Reply(
    text="Hello there, général ☃",
    pieces=4,
    input_tokens=1200,
    output_tokens=37,
    cache_read_tokens=300,
    cache_write_tokens=50,
    tool_call=ToolCall(name="Bash", arguments={"command": "ls -la"}, call_id="call_fake01"),
)
TOOL_SCHEMA: JsonDict = {"type": "object", "properties": {"command": {"type": "string"}}}
CLIENT_BODIES: dict[WireProtocol, JsonDict] = {
    ANTHROPIC: {
        "model": "m",
        "max_tokens": 100,
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"name": "Bash", "input_schema": TOOL_SCHEMA}],
    },
    CHAT: {
        "model": "m",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "Bash", "parameters": TOOL_SCHEMA}}],
    },
    RESPONSES: {
        "model": "m",
        "stream": True,
        "input": "hi",
        "tools": [{"type": "function", "name": "Bash", "parameters": TOOL_SCHEMA}],
    },
}
PAIRS = [
    (u, c) for u in (ANTHROPIC, CHAT, RESPONSES) for c in (ANTHROPIC, CHAT, RESPONSES) if u is not c
]


def _context(
    client: WireProtocol, upstream: WireProtocol, body: JsonDict | None = None
) -> TranslationContext:
    return translate_request(
        body or CLIENT_BODIES[client], client=client, upstream=upstream
    ).context


def _upstream_bytes(upstream: WireProtocol, reply: Reply = REPLY) -> list[bytes]:
    if upstream is ANTHROPIC:
        return anthropic_events(reply, "up-model")
    if upstream is CHAT:
        return chat_events(reply, "up-model", include_usage=True)
    return responses_events(reply, "up-model")


def _client_events(data: bytes) -> list[JsonDict]:
    parser = SSEParser()
    events = parser.feed(data) + parser.close()
    return [json.loads(e.data) for e in events if e.data != "[DONE]"]


def _final(
    client: WireProtocol, events: list[JsonDict]
) -> tuple[str, list[tuple[str, str, dict[str, Any]]], str, Usage]:
    """(text, [(call id, name, arguments)], stop reason, normalised usage) as the SDK sees it."""
    if client is ANTHROPIC:
        msg = anthropic_final(events)
        text = "".join(b.text for b in msg.content if b.type == "text")
        calls = [(b.id, b.name, dict(b.input)) for b in msg.content if b.type == "tool_use"]
        return (
            text,
            calls,
            str(msg.stop_reason),
            anthropic_wire.usage_from_dict(msg.usage.model_dump()),
        )
    if client is CHAT:
        done = chat_final(events)
        message = done.choices[0].message
        calls = [
            (c.id, c.function.name, json.loads(c.function.arguments))
            for c in message.tool_calls or []
            if c.type == "function"
        ]
        assert done.usage is not None
        usage = openai_wire.chat_usage_from_dict(done.usage.model_dump())
        return message.content or "", calls, str(done.choices[0].finish_reason), usage
    resp = responses_final(events)
    calls = [
        (o.call_id, o.name, json.loads(o.arguments))
        for o in resp.output
        if o.type == "function_call"
    ]
    assert resp.usage is not None
    return (
        resp.output_text,
        calls,
        resp.status or "",
        openai_wire.responses_usage_from_dict(resp.usage.model_dump()),
    )


STOPS = {ANTHROPIC: "tool_use", CHAT: "tool_calls", RESPONSES: "completed"}


@pytest.mark.parametrize(("upstream", "client"), PAIRS, ids=lambda p: p.value)
def test_stream_folds_into_the_same_answer_in_the_client_sdk(
    upstream: WireProtocol, client: WireProtocol
) -> None:
    translator = SSEStreamTranslator(_context(client, upstream))
    out = (
        b"".join(translator.feed(chunk) for chunk in _upstream_bytes(upstream))
        + translator.finish()
    )
    text, calls, stop, usage = _final(client, _client_events(out))
    assert text == REPLY.text
    assert calls == [("call_fake01", "Bash", {"command": "ls -la"})]
    assert stop == STOPS[client]
    upstream_usage = translator.usage
    assert upstream_usage is not None
    assert upstream_usage.output_tokens == REPLY.output_tokens
    if client is ANTHROPIC:
        assert usage == upstream_usage
    else:  # OpenAI shapes have no cache-write count: written tokens read as uncached input
        assert usage == Usage(
            upstream_usage.input_tokens + upstream_usage.cache_write_tokens,
            upstream_usage.output_tokens,
            upstream_usage.cache_read_tokens,
        )
    if client is CHAT:
        assert out.endswith(b"data: [DONE]\n\n")


@pytest.mark.parametrize(("upstream", "client"), PAIRS, ids=lambda p: p.value)
def test_each_text_delta_is_sent_on_as_soon_as_it_arrives(
    upstream: WireProtocol, client: WireProtocol
) -> None:
    translator = SSEStreamTranslator(_context(client, upstream))
    pieces = []
    for chunk in _upstream_bytes(upstream):
        out = translator.feed(chunk)
        upstream_text = [json.loads(e.data) for e in SSEParser().feed(chunk) if e.data != "[DONE]"]
        if any(_has_text(e) for e in upstream_text):
            assert out, "a text delta was held back"
            pieces.append(out)
    assert len(pieces) == 4


def _has_text(event: JsonDict) -> bool:
    if event.get("type") == "content_block_delta":
        return bool(event["delta"].get("type") == "text_delta")
    if event.get("type") == "response.output_text.delta":
        return True
    choices = event.get("choices") or [{}]
    return bool(choices[0].get("delta", {}).get("content"))


@pytest.mark.parametrize(("upstream", "client"), PAIRS[:3], ids=lambda p: p.value)
def test_bytes_split_anywhere_translate_the_same(
    upstream: WireProtocol, client: WireProtocol
) -> None:
    whole = b"".join(_upstream_bytes(upstream))
    one = SSEStreamTranslator(_context(client, upstream))
    by_byte = SSEStreamTranslator(_context(client, upstream))
    expected = one.feed(whole) + one.finish()
    got = b"".join(by_byte.feed(whole[i : i + 1]) for i in range(len(whole))) + by_byte.finish()
    assert got == expected


def _delta(index: int, kind: str, key: str, value: str) -> JsonDict:
    return {"type": "content_block_delta", "index": index, "delta": {"type": kind, key: value}}


def _start(index: int, block: JsonDict) -> JsonDict:
    return {"type": "content_block_start", "index": index, "content_block": block}


def _tool(index: int, call_id: str, *pieces: str) -> list[JsonDict]:
    return [
        _start(index, {"type": "tool_use", "id": call_id, "name": "Bash", "input": {}}),
        *[_delta(index, "input_json_delta", "partial_json", p) for p in pieces],
        {"type": "content_block_stop", "index": index},
    ]


def _anthropic_thinking_and_parallel_calls() -> list[JsonDict]:
    usage = {"input_tokens": 10, "output_tokens": 1}
    message: JsonDict = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude"}
    message |= {"content": [], "stop_reason": None, "stop_sequence": None, "usage": usage}
    return [
        {"type": "message_start", "message": message},
        _start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        _delta(0, "thinking_delta", "thinking", "Let me "),
        _delta(0, "thinking_delta", "thinking", "look."),
        _delta(0, "signature_delta", "signature", "SIG=="),
        {"type": "content_block_stop", "index": 0},
        *_tool(1, "toolu_a", '{"command": ', '"ls"}'),
        *_tool(2, "toolu_b", '{"command": "pwd"}'),
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use"},
            "usage": {"output_tokens": 20},
        },
        {"type": "message_stop"},
    ]


def test_anthropic_thinking_reaches_responses_and_comes_back_with_its_signature() -> None:
    translator = StreamTranslator(_context(RESPONSES, ANTHROPIC))
    events = [
        e for up in _anthropic_thinking_and_parallel_calls() for e in translator.feed(up)
    ] + translator.finish()
    resp = responses_final(events)
    reasoning, first, second = resp.output
    assert reasoning.type == "reasoning"
    assert reasoning.summary[0].text == "Let me look."
    assert reasoning.encrypted_content == "spectra:anthropic:SIG=="
    assert first.type == second.type == "function_call"
    assert (first.call_id, first.arguments, second.call_id) == (
        "toolu_a",
        '{"command": "ls"}',
        "toolu_b",
    )
    # next turn: Codex resends the items; Anthropic gets its own thinking block back
    follow_up = {
        "model": "m",
        "input": [
            {"role": "user", "content": "hi"},
            *[item.model_dump(exclude_none=True) for item in resp.output],
            {"type": "function_call_output", "call_id": "toolu_a", "output": "a"},
            {"type": "function_call_output", "call_id": "toolu_b", "output": "b"},
        ],
        "reasoning": {"effort": "high"},
    }
    body = translate_request(follow_up, client=RESPONSES, upstream=ANTHROPIC).body
    assistant = body["messages"][1]["content"]
    assert assistant[0] == {"type": "thinking", "thinking": "Let me look.", "signature": "SIG=="}
    assert [b["id"] for b in assistant[1:]] == ["toolu_a", "toolu_b"]
    assert [b["tool_use_id"] for b in body["messages"][2]["content"]] == ["toolu_a", "toolu_b"]
    # reasoning without `summary`: OpenAI would show no thinking text, nor does Anthropic then
    assert body["thinking"] == {"type": "adaptive", "display": "omitted"}


def test_parallel_calls_reach_chat_as_indexed_tool_call_deltas() -> None:
    translator = StreamTranslator(_context(CHAT, ANTHROPIC))
    chunks = [
        e for up in _anthropic_thinking_and_parallel_calls() for e in translator.feed(up)
    ] + translator.finish()
    done = chat_final(chunks)
    calls = done.choices[0].message.tool_calls or []
    assert [(c.id, c.function.arguments) for c in calls if c.type == "function"] == [
        ("toolu_a", '{"command": "ls"}'),
        ("toolu_b", '{"command": "pwd"}'),
    ]
    assert done.choices[0].finish_reason == "tool_calls"
    assert any(
        c.get("choices") and c["choices"][0]["delta"].get("reasoning_content") == "Let me "
        for c in chunks
    )


def _responses_reasoning_and_call(name: str, args: list[str], custom: bool) -> list[JsonDict]:
    kind = "custom_tool_call" if custom else "function_call"
    delta = (
        "response.custom_tool_call_input.delta"
        if custom
        else "response.function_call_arguments.delta"
    )
    resp = {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "model": "gpt",
        "status": "in_progress",
        "output": [],
    }
    item = {"type": kind, "id": "fc_1", "call_id": "call_1", "name": name, "namespace": "functions"}
    usage = {
        "input_tokens": 50,
        "input_tokens_details": {"cached_tokens": 20},
        "output_tokens": 9,
        "output_tokens_details": {"reasoning_tokens": 4},
        "total_tokens": 59,
    }
    return [
        {"type": "response.created", "response": resp},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {"type": "reasoning", "id": "rs_9", "summary": []},
        },
        {
            "type": "response.reasoning_summary_text.delta",
            "output_index": 0,
            "item_id": "rs_9",
            "summary_index": 0,
            "delta": "Thinking",
        },
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {"type": "reasoning", "id": "rs_9", "summary": [], "encrypted_content": "ENC"},
        },
        {"type": "response.output_item.added", "output_index": 1, "item": item},
        *[{"type": delta, "output_index": 1, "item_id": "fc_1", "delta": a} for a in args],
        {"type": "response.output_item.done", "output_index": 1, "item": item},
        {"type": "response.completed", "response": resp | {"status": "completed", "usage": usage}},
    ]


def test_responses_reasoning_reaches_anthropic_as_a_replayable_signature() -> None:
    translator = StreamTranslator(_context(ANTHROPIC, RESPONSES))
    up = _responses_reasoning_and_call("Bash", ['{"command":', ' "ls"}'], custom=False)
    msg = anthropic_final([e for u in up for e in translator.feed(u)] + translator.finish())
    thinking, call = msg.content
    assert thinking.type == "thinking"
    assert thinking.thinking == "Thinking"
    assert thinking.signature == "spectra:openai:rs_9:ENC"
    assert call.type == "tool_use"
    assert call.input == {"command": "ls"}
    assert msg.stop_reason == "tool_use"
    assert (msg.usage.input_tokens, msg.usage.cache_read_input_tokens) == (30, 20)
    follow_up = {
        "model": "m",
        "max_tokens": 100,
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": [b.model_dump(exclude_none=True) for b in msg.content],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "ok"}],
            },
        ],
    }
    body = translate_request(follow_up, client=ANTHROPIC, upstream=RESPONSES).body
    assert body["input"][1] == {
        "type": "reasoning",
        "id": "rs_9",
        "summary": [{"type": "summary_text", "text": "Thinking"}],
        "encrypted_content": "ENC",
    }


CODEX_BODY: JsonDict = {
    "model": "gpt-6",
    "stream": True,
    "input": [
        {
            "type": "additional_tools",
            "role": "developer",
            "tools": [
                {
                    "type": "namespace",
                    "name": "functions",
                    "description": "",
                    "tools": [
                        {"type": "custom", "name": "exec", "description": "Run JS"},
                    ],
                },
            ],
        },
        {"role": "user", "content": "run"},
    ],
}


@pytest.mark.parametrize("upstream", [ANTHROPIC, CHAT], ids=lambda p: p.value)
def test_codex_custom_tool_call_comes_back_as_custom_input(upstream: WireProtocol) -> None:
    ctx = _context(RESPONSES, upstream, CODEX_BODY)
    reply = Reply(
        text="",
        tool_call=ToolCall(
            name="exec", arguments={"input": 'tools.exec_command({cmd: "ls"})\n'}, call_id="call_x"
        ),
    )
    translator = SSEStreamTranslator(ctx)
    out = (
        b"".join(translator.feed(c) for c in _upstream_bytes(upstream, reply)) + translator.finish()
    )
    events = _client_events(out)
    resp = responses_final(events)
    (call,) = resp.output
    assert call.type == "custom_tool_call"
    assert (call.name, call.namespace, call.input) == (
        "exec",
        "functions",
        'tools.exec_command({cmd: "ls"})\n',
    )
    assert any(e["type"] == "response.custom_tool_call_input.done" for e in events)


@pytest.mark.parametrize("client", [ANTHROPIC, CHAT], ids=lambda p: p.value)
def test_custom_tool_input_from_responses_streams_as_json_arguments(client: WireProtocol) -> None:
    bodies: dict[WireProtocol, JsonDict] = {
        ANTHROPIC: {
            "model": "m",
            "max_tokens": 5,
            "messages": [{"role": "user", "content": "x"}],
            "tools": [{"name": "exec", "input_schema": {"type": "object"}}],
        },
        CHAT: {
            "model": "m",
            "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "custom", "custom": {"name": "exec"}}],
            "stream_options": {"include_usage": True},
        },
    }
    translator = StreamTranslator(_context(client, RESPONSES, bodies[client]))
    up = _responses_reasoning_and_call("exec", ['say "hi"', "\nbye"], custom=True)
    events = [e for u in up for e in translator.feed(u)] + translator.finish()
    if client is ANTHROPIC:
        call = anthropic_final(events).content[1]
        assert call.type == "tool_use"
        assert call.input == {"input": 'say "hi"\nbye'}
    else:
        (tool_call,) = chat_final(events).choices[0].message.tool_calls or []
        assert tool_call.type == "function"
        assert (
            tool_call.function.arguments == 'say "hi"\nbye'
        )  # the caller's custom tool takes text


def test_chat_reasoning_and_split_parallel_calls_reach_anthropic() -> None:
    base = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "deepseek"}

    def chunk(delta: JsonDict, finish: str | None = None) -> JsonDict:
        return base | {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    def call(i: int, args: str, cid: str | None = None) -> JsonDict:
        entry: JsonDict = {"index": i, "function": {"arguments": args}}
        if cid:
            entry |= {
                "id": cid,
                "type": "function",
                "function": {"name": "Bash", "arguments": args},
            }
        return chunk({"tool_calls": [entry]})

    up = [
        chunk({"role": "assistant", "content": None, "reasoning_content": "Hmm"}),
        chunk({"content": "Running."}),
        call(0, '{"comm', "call_a"),
        call(0, 'and": "ls"}'),
        call(1, "", "call_b"),
        call(1, '{"command": "pwd"}'),
        chunk({}, "tool_calls"),
        base
        | {
            "choices": [],
            "usage": {
                "prompt_tokens": 100,
                "completion_tokens": 7,
                "prompt_tokens_details": {"cached_tokens": 60},
            },
        },
    ]
    translator = StreamTranslator(_context(ANTHROPIC, CHAT))
    msg = anthropic_final([e for u in up for e in translator.feed(u)] + translator.finish())
    assert [b.type for b in msg.content] == ["thinking", "text", "tool_use", "tool_use"]
    assert [b.input for b in msg.content if b.type == "tool_use"] == [
        {"command": "ls"},
        {"command": "pwd"},
    ]
    assert msg.stop_reason == "tool_use"
    assert (msg.usage.input_tokens, msg.usage.cache_read_input_tokens, msg.usage.output_tokens) == (
        40,
        60,
        7,
    )
    assert translator.usage == Usage(input_tokens=40, output_tokens=7, cache_read_tokens=60)


def test_upstream_stream_error_reaches_each_client_in_its_shape() -> None:
    start = _anthropic_thinking_and_parallel_calls()[0]
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    chat = StreamTranslator(_context(CHAT, ANTHROPIC))
    assert chat.feed(start)
    assert chat.feed(error) == [
        {"error": {"message": "Overloaded", "type": "server_error", "param": None, "code": None}}
    ]
    responses = StreamTranslator(_context(RESPONSES, ANTHROPIC))
    responses.feed(start)
    (failed,) = responses.feed(error)
    assert failed["type"] == "response.failed"
    assert failed["response"]["error"] == {"code": "server_error", "message": "Overloaded"}
    assert chat.finish() == []


@pytest.mark.parametrize("upstream", [CHAT, RESPONSES], ids=lambda p: p.value)
def test_a_truncated_upstream_stream_ends_in_an_error_not_a_clean_stop(
    upstream: WireProtocol,
) -> None:
    translator = SSEStreamTranslator(_context(ANTHROPIC, upstream))
    chunks = _upstream_bytes(upstream)
    out = b"".join(translator.feed(c) for c in chunks[:3]) + translator.finish()
    events = _client_events(out)
    assert events[-1]["type"] == "error"
    assert not any(e["type"] == "message_stop" for e in events)


def test_chat_calls_without_index_are_told_apart_by_id() -> None:
    base = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gemini"}

    def call(cid: str, name: str, args: str) -> JsonDict:
        entry = {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
        return base | {"choices": [{"index": 0, "delta": {"tool_calls": [entry]}}]}

    up = [
        call("call_a", "Bash", '{"command": "ls"}'),
        call("call_b", "Bash", '{"command": "pwd"}'),
        base | {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    ]
    translator = StreamTranslator(_context(ANTHROPIC, CHAT))
    msg = anthropic_final([e for u in up for e in translator.feed(u)] + translator.finish())
    assert [(b.id, b.input) for b in msg.content if b.type == "tool_use"] == [
        ("call_a", {"command": "ls"}),
        ("call_b", {"command": "pwd"}),
    ]


def test_responses_text_without_a_content_part_event_still_arrives() -> None:
    resp = {"id": "resp_1", "object": "response", "created_at": 1, "model": "gpt", "output": []}
    item = {"type": "message", "id": "msg_1", "role": "assistant", "content": []}
    up: list[JsonDict] = [
        {"type": "response.created", "response": resp},
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {
            "type": "response.output_text.delta",
            "output_index": 0,
            "item_id": "msg_1",
            "content_index": 0,
            "delta": "po",
        },
        {
            "type": "response.output_text.delta",
            "output_index": 0,
            "item_id": "msg_1",
            "content_index": 0,
            "delta": "ng",
        },
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": resp | {"status": "completed"}},
    ]
    translator = StreamTranslator(_context(ANTHROPIC, RESPONSES))
    msg = anthropic_final([e for u in up for e in translator.feed(u)] + translator.finish())
    assert [(b.type, getattr(b, "text", None)) for b in msg.content] == [("text", "pong")]
    assert msg.stop_reason == "end_turn"


def test_a_call_id_anthropic_rejects_pairs_up_again_on_the_next_turn() -> None:
    """Kimi-style ids (`functions.Bash:0`) are renamed for Claude Code; the next turn sends the
    new id on both the call and its result, so the upstream still sees them paired."""
    first = translate_request(CLIENT_BODIES[ANTHROPIC], client=ANTHROPIC, upstream=CHAT)
    reply = Reply(
        text="",
        tool_call=ToolCall(name="Bash", arguments={"command": "ls"}, call_id="functions.Bash:0"),
    )
    translator = SSEStreamTranslator(first.context)
    out = b"".join(translator.feed(c) for c in chat_events(reply, "kimi", include_usage=True))
    message = anthropic_final(_client_events(out + translator.finish()))
    (use,) = message.content
    assert use.type == "tool_use"
    assert use.id.startswith("toolu_")
    follow_up = CLIENT_BODIES[ANTHROPIC] | {
        "messages": [
            *CLIENT_BODIES[ANTHROPIC]["messages"],
            {"role": "assistant", "content": [use.model_dump()]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "a b"}],
            },
            {"role": "system", "content": "reminder"},
        ]
    }
    body = translate_request(follow_up, client=ANTHROPIC, upstream=CHAT).body
    call = body["messages"][-3]["tool_calls"][0]
    assert body["messages"][-2] == {"role": "tool", "tool_call_id": call["id"], "content": "a b"}
    assert body["messages"][-1] == {"role": "system", "content": "reminder"}


def test_an_error_before_the_answer_starts_still_parses_in_the_responses_sdk() -> None:
    translator = StreamTranslator(_context(RESPONSES, ANTHROPIC))
    (failed,) = translator.feed(
        {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
    )
    event = ResponseFailedEvent.model_validate(failed)
    assert event.response.error is not None
    assert (event.response.error.code, event.response.error.message) == (
        "rate_limit_exceeded",
        "slow down",
    )
