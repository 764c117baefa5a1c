"""Streamed deltas written from per-stream templates (`Templated`) are byte for byte what
serialising each whole event gives, whatever the text holds."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from spectra.providers.translate import SSEStreamTranslator, encode_sse, translate_request
from spectra.providers.translate.anthropic_stream import AnthropicEncoder
from spectra.providers.translate.chat_stream import ChatEncoder
from spectra.providers.translate.ir import BlockStart, Delta, Start, Templated
from spectra.providers.types import WireProtocol

from .support import ANTHROPIC, CHAT

TEXTS = st.lists(st.text(), min_size=1, max_size=6)


def _plain(protocol: WireProtocol, events: list[dict[str, object]]) -> bytes:
    return encode_sse(protocol, [dict(e) for e in events])


@given(TEXTS)
def test_chat_deltas_from_templates_equal_whole_events(texts: list[str]) -> None:
    request = {"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": True}
    ctx = translate_request(request, client=CHAT, upstream=ANTHROPIC).context
    encoder = ChatEncoder(ctx)
    events = encoder.feed(Start("msg_1", "m", None, 1))
    events += encoder.feed(BlockStart(0, "tool", "toolu_1", "Bash"))
    for n, text in enumerate(texts):
        events += encoder.feed(Delta(1, "text", text))
        events += encoder.feed(Delta(0, "args", text))
        events += encoder.feed(Delta(1 + n, "thinking", text))
    assert any(type(e) is Templated for e in events)
    templates: dict[tuple[object, ...], tuple[str, str] | None] = {}
    assert encode_sse(CHAT, events, templates=templates) == _plain(CHAT, events)
    assert encode_sse(CHAT, events, templates=templates) == _plain(CHAT, events)


@given(TEXTS)
def test_anthropic_deltas_from_templates_equal_whole_events(texts: list[str]) -> None:
    encoder = AnthropicEncoder()
    events = encoder.feed(Start("msg_1", "m"))
    events += encoder.feed(BlockStart(0, "text"))
    events += encoder.feed(BlockStart(1, "tool", "call_1", "Bash"))
    for text in texts:
        events += encoder.feed(Delta(0, "text", text))
        events += encoder.feed(Delta(1, "args", text))
    templates: dict[tuple[object, ...], tuple[str, str] | None] = {}
    assert encode_sse(ANTHROPIC, events, templates=templates) == _plain(ANTHROPIC, events)
    assert set(templates) == {(0, "text_delta"), (1, "input_json_delta")}


def test_a_translated_stream_reuses_one_template_per_block() -> None:
    request = {"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": True}
    ctx = translate_request(request, client=ANTHROPIC, upstream=CHAT).context
    translator = SSEStreamTranslator(ctx)
    chunks = [
        "data: "
        + json.dumps(
            {
                "id": "c1",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "m",
                "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
            }
        )
        + "\n\n"
        for text in ("a", 'b"\\n', "é")
    ]
    out = b"".join(translator.feed(c.encode()) for c in chunks).decode()
    assert out.count("content_block_delta") == 6  # event: and data: of three deltas
    assert '"text":"b\\"\\\\n"' in out
    assert '"text":"é"' in out
    assert list(translator._templates) == [(0, "text_delta")]
