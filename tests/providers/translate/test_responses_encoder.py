"""The Responses encoder writes each event's SSE text itself (no event dicts): that text is byte
for byte what serialising its events whole gives, for every event it writes, whatever the
texts hold; and each event shows its item as it was when the event was sent."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from spectra.providers.translate import encode_sse, translate_request
from spectra.providers.translate.ir import (
    BlockStart,
    BlockStop,
    Delta,
    End,
    Error,
    Failure,
    Start,
    StreamEvent,
)
from spectra.providers.translate.responses_encoder import ResponsesEncoder
from spectra.providers.translate.stream import StreamTranslator
from spectra.providers.types import Usage

from .support import CHAT, RESPONSES
from .test_streams import CLIENT_BODIES

TEXTS = st.lists(st.text(), min_size=1, max_size=4)


def _encoder() -> ResponsesEncoder:
    ctx = translate_request(CLIENT_BODIES[RESPONSES], client=RESPONSES, upstream=CHAT).context
    return ResponsesEncoder(ctx)


def _canonical(text: str) -> None:
    """`text` is a run of SSE events, each its data serialised whole as `encode_sse` does."""
    blocks = [block + "\n\n" for block in text.split("\n\n") if block]
    events = [json.loads(block.partition("data: ")[2]) for block in blocks]
    assert [encode_sse(RESPONSES, [event]).decode() for event in events] == blocks


def _answer(texts: list[str], name: str, end: StreamEvent) -> list[StreamEvent]:
    return [
        Start(f"resp_{name}", name, None, 7),
        BlockStart(0, "reasoning"),
        *[Delta(0, "thinking", t) for t in texts],
        Delta(0, "opaque", "sig", "anthropic"),
        BlockStop(0),
        BlockStart(1, "text"),
        *[Delta(1, "text", t) for t in texts],
        BlockStop(1),
        BlockStart(2, "tool", f"call_{name}", name, namespace=name or None),
        *[Delta(2, "args", t) for t in texts],
        BlockStop(2),
        BlockStart(3, "tool", "call_2", "exec", custom=True),
        *[Delta(3, "args", t) for t in texts],
        BlockStop(3),
        end,
    ]


@given(texts=TEXTS, name=st.text(), stop=st.sampled_from(["end_turn", "max_tokens", "tool_use"]))
def test_every_event_is_its_dict_serialised_whole(texts: list[str], name: str, stop: str) -> None:
    encoder = _encoder()
    usage = Usage(input_tokens=3, output_tokens=5, cache_read_tokens=1)
    events = _answer(texts, name, End(stop, usage, reasoning_tokens=2))  # type: ignore[arg-type]
    text = "".join(encoder.feed(event) for event in events)
    _canonical(text)
    assert text.count("\n\n") == len(texts) * 4 + 19  # events: no JSON string holds a newline


@given(texts=TEXTS)
def test_a_failure_and_an_end_before_the_start_are_serialised_whole(texts: list[str]) -> None:
    failed = _encoder()
    text = failed.feed(Start("r", "m")) + failed.feed(BlockStart(0, "text"))
    text += "".join(failed.feed(Delta(0, "text", t)) for t in texts)
    text += failed.feed(Failure(Error(429, "rate_limit_error", texts[0])))
    _canonical(text)
    _canonical(_encoder().feed(End("end_turn", Usage(input_tokens=1, output_tokens=1))))


def test_a_reasoning_item_opens_with_an_empty_summary_even_when_its_text_comes_along() -> None:
    """A chat upstream's first chunk opens the reasoning block and carries its first text: the
    `output_item.added` still shows the item as it was opened (the Responses API's own shape),
    not as the delta after it left it."""
    ctx = translate_request(CLIENT_BODIES[RESPONSES], client=RESPONSES, upstream=CHAT).context
    translator = StreamTranslator(ctx)
    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    delta = {"role": "assistant", "reasoning_content": "thinking..."}
    events = translator.feed(chunk | {"choices": [{"index": 0, "delta": delta}]})
    added = [e for e in events if e["type"] == "response.output_item.added"]
    assert added[0]["item"]["summary"] == []
    assert [e["delta"] for e in events if "delta" in e] == ["thinking..."]
