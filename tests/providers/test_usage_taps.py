"""Usage taps over realistic streams (the fake's, shaped like the client recordings) and
usage parsing of non-streamed bodies."""

from __future__ import annotations

import json

import pytest
from tests.fakes.gemini import gemini_body, gemini_events
from tests.fakes.upstream import (
    Reply,
    ToolCall,
    anthropic_body,
    anthropic_events,
    chat_body,
    chat_events,
    responses_body,
    responses_events,
)

from spectra.providers import Usage, WireProtocol, make_tap, usage_from_body
from spectra.providers.anthropic import AnthropicMessagesTap
from spectra.providers.errors import FailureType, classify_stream_error
from spectra.providers.openai import OpenAIChatTap, OpenAIResponsesTap
from spectra.providers.taps import StreamUsageTap

REPLY = Reply(
    text="Hello there, général ☃",
    pieces=4,
    input_tokens=1200,
    output_tokens=37,
    cache_read_tokens=800,
    cache_write_tokens=300,
)
EXPECTED = Usage(input_tokens=1200, output_tokens=37, cache_read_tokens=800, cache_write_tokens=300)
# OpenAI bills no cache writes; its prompt tokens include the cached part, which we split out.
EXPECTED_OPENAI = Usage(input_tokens=1200, output_tokens=37, cache_read_tokens=800)


def _stream(protocol: WireProtocol, reply: Reply) -> bytes:
    if protocol is WireProtocol.ANTHROPIC_MESSAGES:
        return b"".join(anthropic_events(reply, "claude-sonnet-4-5"))
    if protocol is WireProtocol.OPENAI_CHAT:
        return b"".join(chat_events(reply, "gpt-5", include_usage=True))
    if protocol is WireProtocol.GEMINI:
        return b"".join(gemini_events(reply, "gemini-2.5-pro"))
    return b"".join(responses_events(reply, "gpt-5"))


def _feed_split(tap: StreamUsageTap, data: bytes, cut: int) -> StreamUsageTap:
    tap.feed(data[:cut])
    tap.feed(data[cut:])
    tap.close()
    return tap


@pytest.mark.parametrize(
    ("protocol", "expected", "model"),
    [
        (WireProtocol.ANTHROPIC_MESSAGES, EXPECTED, "claude-sonnet-4-5"),
        (WireProtocol.OPENAI_CHAT, EXPECTED_OPENAI, "gpt-5"),
        (WireProtocol.OPENAI_RESPONSES, EXPECTED_OPENAI, "gpt-5"),
        (WireProtocol.GEMINI, EXPECTED_OPENAI, "gemini-2.5-pro"),
    ],
)
def test_tap_reads_usage_at_every_split(
    protocol: WireProtocol, expected: Usage, model: str
) -> None:
    data = _stream(protocol, REPLY)
    for cut in range(0, len(data) + 1, 7):
        tap = _feed_split(make_tap(protocol), data, cut)
        assert tap.usage == expected
        assert tap.finished
        assert tap.model == model
        assert tap.saw_output
        assert tap.output_chars == len(REPLY.text)
        assert tap.billable_usage(input_tokens_estimate=5) == expected


@pytest.mark.parametrize("protocol", list(WireProtocol))
def test_tool_call_counts_as_output(protocol: WireProtocol) -> None:
    reply = Reply(text="", tool_call=ToolCall(name="Bash", arguments={"command": "ls -la"}))
    tap = make_tap(protocol)
    tap.feed(_stream(protocol, reply))
    assert tap.saw_output
    assert tap.output_chars >= len(json.dumps({"command": "ls -la"}))
    assert tap.finished


@pytest.mark.parametrize("protocol", list(WireProtocol))
def test_stream_cut_before_usage_is_estimated_from_relayed_text(protocol: WireProtocol) -> None:
    reply = Reply(
        text="".join(letter * 40 for letter in "abcdefghij"), pieces=10, output_tokens=100
    )
    events = {
        WireProtocol.ANTHROPIC_MESSAGES: anthropic_events(reply, "m"),
        WireProtocol.OPENAI_CHAT: chat_events(reply, "m", include_usage=True),
        WireProtocol.OPENAI_RESPONSES: responses_events(reply, "m"),
        WireProtocol.GEMINI: gemini_events(reply, "m"),
    }[protocol]
    cut_at = next(
        i for i, e in enumerate(events) if (b"delta" in e or b"parts" in e) and b"f" * 40 in e
    )
    # five 40-character deltas (a..e) were relayed before the cut
    tap = make_tap(protocol)
    tap.feed(b"".join(events[:cut_at]))
    tap.close()
    assert not tap.finished
    billed = tap.billable_usage(input_tokens_estimate=999)
    assert billed.output_tokens == 50  # 200 chars / 4
    if protocol is WireProtocol.ANTHROPIC_MESSAGES:
        assert billed.input_tokens == reply.input_tokens  # message_start already told us
    else:
        assert billed.input_tokens == 999


def test_anthropic_message_delta_takes_latest_non_null_fields() -> None:
    tap = AnthropicMessagesTap()
    start = {
        "type": "message_start",
        "message": {
            "model": "claude-opus-4-8",
            "usage": {"input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 1},
        },
    }
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn"},
        "usage": {
            "input_tokens": 12,
            "cache_read_input_tokens": None,
            "cache_creation_input_tokens": 7,
            "output_tokens": 30,
        },
    }
    tap.feed(f"event: message_start\ndata: {json.dumps(start)}\n\n".encode())
    tap.feed(f"event: message_delta\ndata: {json.dumps(delta)}\n\n".encode())
    tap.feed(
        b'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":42}}\n\n'
    )
    tap.feed(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
    assert tap.usage == Usage(
        input_tokens=12, output_tokens=42, cache_read_tokens=5, cache_write_tokens=7
    )
    assert tap.finished


def test_anthropic_ping_and_error_event_mid_stream() -> None:
    tap = AnthropicMessagesTap()
    tap.feed(b'event: ping\ndata: {"type": "ping"}\n\n')
    tap.feed(
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    )
    assert tap.error is not None
    failure = classify_stream_error("anthropic", tap.error)
    assert failure.type is FailureType.OVERLOADED
    assert not tap.finished


def test_openai_chat_tap_without_usage_chunk_has_no_usage() -> None:
    tap = OpenAIChatTap()
    tap.feed(b"".join(chat_events(REPLY, "gpt-5", include_usage=False)))
    assert tap.finished
    assert tap.usage is None
    assert tap.billable_usage(input_tokens_estimate=77) == Usage(input_tokens=77, output_tokens=6)


def test_openai_chat_usage_on_every_chunk_keeps_latest() -> None:
    tap = OpenAIChatTap()
    for completion in (1, 2, 3):
        chunk = {
            "choices": [{"index": 0, "delta": {"content": "a"}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": completion},
        }
        tap.feed(f"data: {json.dumps(chunk)}\n\n".encode())
    tap.feed(b"data: [DONE]\n\n")
    assert tap.usage == Usage(input_tokens=10, output_tokens=3)


def test_responses_incomplete_and_failed_end_the_stream_with_usage() -> None:
    for kind in ("response.incomplete", "response.failed"):
        tap = OpenAIResponsesTap()
        response = {
            "model": "gpt-5-codex",
            "usage": {
                "input_tokens": 50,
                "input_tokens_details": {"cached_tokens": 20},
                "output_tokens": 9,
            },
            "error": {"code": "server_error", "message": "boom"}
            if kind == "response.failed"
            else None,
        }
        tap.feed(
            f"event: {kind}\ndata: {json.dumps({'type': kind, 'response': response})}\n\n".encode()
        )
        assert tap.finished
        assert tap.usage == Usage(input_tokens=30, output_tokens=9, cache_read_tokens=20)
        assert (tap.error is not None) is (kind == "response.failed")


@pytest.mark.parametrize(
    ("protocol", "body", "expected"),
    [
        (WireProtocol.ANTHROPIC_MESSAGES, anthropic_body(REPLY, "m"), EXPECTED),
        (WireProtocol.OPENAI_CHAT, chat_body(REPLY, "m"), EXPECTED_OPENAI),
        (WireProtocol.OPENAI_RESPONSES, responses_body(REPLY, "m"), EXPECTED_OPENAI),
        (WireProtocol.GEMINI, gemini_body(REPLY, "m"), EXPECTED_OPENAI),
    ],
)
def test_non_streamed_body_usage(protocol: WireProtocol, body: bytes, expected: Usage) -> None:
    assert usage_from_body(protocol, body) == expected


def test_body_without_usage_or_not_json_gives_none() -> None:
    assert usage_from_body(WireProtocol.OPENAI_CHAT, b'{"id": "x"}') is None
    assert usage_from_body(WireProtocol.ANTHROPIC_MESSAGES, b"<html>") is None


def test_deepseek_style_cache_hit_tokens() -> None:
    body = (
        b'{"usage": {"prompt_tokens": 100, "completion_tokens": 5, "prompt_cache_hit_tokens": 60}}'
    )
    assert usage_from_body(WireProtocol.OPENAI_CHAT, body) == Usage(
        input_tokens=40, output_tokens=5, cache_read_tokens=60
    )


def test_gemini_thoughts_and_tool_prompt_tokens_are_billed() -> None:
    """Thinking is output beside the candidates; tool-use prompt tokens are input; the
    cached part of the prompt is cache reads."""
    chunk = {
        "candidates": [{"content": {"parts": [{"text": "ok"}]}, "finishReason": "STOP"}],
        "usageMetadata": {
            "promptTokenCount": 1000,
            "toolUsePromptTokenCount": 50,
            "cachedContentTokenCount": 600,
            "candidatesTokenCount": 20,
            "thoughtsTokenCount": 300,
        },
    }
    tap = make_tap(WireProtocol.GEMINI)
    tap.feed(f"data: {json.dumps(chunk)}\r\n\r\n".encode())
    assert tap.finished
    assert tap.usage == Usage(input_tokens=450, output_tokens=320, cache_read_tokens=600)


def test_gemini_error_chunk_is_kept_and_does_not_finish() -> None:
    error = {"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}
    tap = make_tap(WireProtocol.GEMINI)
    tap.feed(f"data: {json.dumps(error)}\n\n".encode())
    assert tap.error == error
    assert not tap.finished
