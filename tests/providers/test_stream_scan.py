"""The taps' no-parse path for text deltas (providers/scan.py) concludes exactly what the full
JSON parse concludes: compared event by event against the parsed path (`on_parsed`, what the
translators feed), over realistic upstream shapes and arbitrary text, and it does not swallow
usage, errors or tool calls sent in an unexpected event."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spectra.providers import WireProtocol, make_tap
from spectra.providers.scan import CHAT_TEXT_DELTA, MESSAGES_TEXT_DELTA, RESPONSES_TEXT_DELTA
from spectra.providers.sse import SSEEvent
from spectra.providers.taps import StreamUsageTap

COMPACT = (",", ":")


def chat_chunk(text: str, **extra: Any) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": "chatcmpl-BXo2pQ",
        "object": "chat.completion.chunk",
        "created": 1765000000,
        "model": "gpt-4o-2024-08-06",
        "service_tier": "default",
        "system_fingerprint": "fp_07871e2ad8",
        "choices": [
            {"index": 0, "delta": {"content": text}, "logprobs": None, "finish_reason": None}
        ],
        "usage": None,
        "obfuscation": "Zk3",
    }
    chunk.update(extra)
    return chunk


def messages_delta(text: str, kind: str = "text") -> dict[str, Any]:
    return {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": f"{kind}_delta", kind: text},
    }


def responses_delta(text: str, kind: str = "output_text") -> dict[str, Any]:
    return {
        "type": f"response.{kind}.delta",
        "sequence_number": 7,
        "item_id": "msg_68a1",
        "output_index": 0,
        "content_index": 0,
        "delta": text,
        "logprobs": [],
        "obfuscation": "q1",
    }


def event(obj: object, name: str = "", *, separators: tuple[str, str] | None = COMPACT) -> SSEEvent:
    return SSEEvent(name, json.dumps(obj, separators=separators, ensure_ascii=False), 0, 0)


def state(tap: StreamUsageTap) -> tuple[object, ...]:
    return (
        tap.usage,
        tap.finished,
        tap.model,
        tap.saw_output,
        tap.output_chars,
        tap.error,
        tuple(tap.anomalies),
    )


def both(protocol: WireProtocol, events: list[SSEEvent]) -> tuple[tuple[object, ...], ...]:
    """The state after `on_event` (the scan where it applies) and after the parsed path."""
    scanned, parsed = make_tap(protocol), make_tap(protocol)
    for ev in events:
        scanned.on_event(ev)
        if ev.event != "ping" and ev.data != "[DONE]":
            with contextlib.suppress(ValueError):
                parsed.on_parsed(ev, json.loads(ev.data))
        elif ev.data == "[DONE]":
            parsed.finished = True
    return state(scanned), state(parsed)


def test_the_realistic_shapes_take_the_scan() -> None:
    """The common deltas are recognised (else the scan silently stops paying)."""
    chat = CHAT_TEXT_DELTA(event(chat_chunk("The quick")).data)
    assert chat is not None
    assert chat.groups() == ("gpt-4o-2024-08-06", "The quick")
    bare = {k: v for k, v in chat_chunk("fox").items() if k not in ("service_tier", "obfuscation")}
    assert CHAT_TEXT_DELTA(event(bare).data) is not None
    msg = MESSAGES_TEXT_DELTA(event(messages_delta("brown fox")).data)
    assert msg is not None
    assert msg.group(1) == "brown fox"
    thinking = MESSAGES_TEXT_DELTA(event(messages_delta("hmm", "thinking")).data)
    assert thinking is not None
    assert thinking.group(1) == "hmm"
    resp = RESPONSES_TEXT_DELTA(event(responses_delta("jumps")).data)
    assert resp is not None
    assert resp.groups() == ("response.output_text.delta", "jumps")


@pytest.mark.parametrize(
    "data",
    [
        # Escapes, spaces, other key orders, leading zeros, control characters: full parse.
        json.dumps(chat_chunk('say "hi"'), separators=COMPACT),
        json.dumps(chat_chunk("a\\b"), separators=COMPACT),
        json.dumps(chat_chunk("caf\u00e9"), separators=COMPACT),  # ensure_ascii: \u00e9
        json.dumps(chat_chunk("x")),
        json.dumps(messages_delta("x"), separators=COMPACT).replace('"index":0', '"index":00'),
        '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a\x01"}}',
        '{"type":"content_block_delta","delta":{"type":"text_delta","text":"a"},"index":0}',
    ],
)
def test_what_the_scan_does_not_take(data: str) -> None:
    assert CHAT_TEXT_DELTA(data) is None
    assert MESSAGES_TEXT_DELTA(data) is None
    assert RESPONSES_TEXT_DELTA(data) is None


texts = st.text(max_size=40)
separators = st.sampled_from([COMPACT, None])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(texts, separators), min_size=1, max_size=6))
def test_chat_scan_equals_the_parse(pieces: list[tuple[str, tuple[str, str] | None]]) -> None:
    events = [event(chat_chunk(text), separators=sep) for text, sep in pieces]
    usage = {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19}
    events.append(event(chat_chunk("", choices=[], usage=usage)))
    events.append(SSEEvent("", "[DONE]", 0, 0))
    scanned, parsed = both(WireProtocol.OPENAI_CHAT, events)
    assert scanned == parsed
    assert scanned[4] == sum(len(text) for text, _ in pieces)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(texts, st.sampled_from(["text", "thinking"]), st.sampled_from(["", "x"])),
        min_size=1,
        max_size=6,
    )
)
def test_messages_scan_equals_the_parse(pieces: list[tuple[str, str, str]]) -> None:
    events = [
        event(messages_delta(text, kind), "content_block_delta" if named else "")
        for text, kind, named in pieces
    ]
    scanned, parsed = both(WireProtocol.ANTHROPIC_MESSAGES, events)
    assert scanned == parsed
    assert scanned[4] == sum(len(text) for text, _, _ in pieces)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(texts, st.sampled_from(["output_text", "refusal", "reasoning_text"])),
        min_size=1,
        max_size=6,
    )
)
def test_responses_scan_equals_the_parse(pieces: list[tuple[str, str]]) -> None:
    events = [event(responses_delta(text, kind), f"response.{kind}.delta") for text, kind in pieces]
    scanned, parsed = both(WireProtocol.OPENAI_RESPONSES, events)
    assert scanned == parsed
    assert scanned[4] == sum(len(text) for text, _ in pieces)


def test_usage_and_errors_in_a_delta_event_are_not_missed() -> None:
    """An upstream that puts usage (numbers as strings, huge) or an error on a text chunk."""
    lying = [
        event(chat_chunk("one", usage={"prompt_tokens": "12", "completion_tokens": 10**30})),
        event(chat_chunk("two", error={"message": "overloaded"})),
        event(chat_chunk("three", model="gpt-4o-mini")),
    ]
    scanned, parsed = both(WireProtocol.OPENAI_CHAT, lying)
    assert scanned == parsed
    tap = make_tap(WireProtocol.OPENAI_CHAT)
    for ev in lying:
        tap.on_event(ev)
    assert tap.usage is not None
    assert tap.anomalies  # the string and the huge count were noted, not trusted
    assert tap.error is not None
    assert tap.output_chars == len("onetwothree")
    # With no usage reported at all, the estimate still comes from the scanned text.
    cut = make_tap(WireProtocol.ANTHROPIC_MESSAGES)
    cut.on_event(event(messages_delta("x" * 41), "content_block_delta"))
    assert cut.usage is None
    assert cut.metered(input_tokens_estimate=5).usage.output_tokens == 11
