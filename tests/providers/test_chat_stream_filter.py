"""The include_usage filter: withhold exactly the usage-only chunk, relay all else."""

from __future__ import annotations

from tests.fakes.upstream import Reply, chat_events

from spectra.providers import Usage
from spectra.providers.openai import OpenAIChatStreamFilter

REPLY = Reply(text="abcdefghij", pieces=3, input_tokens=20, output_tokens=3, cache_read_tokens=4)


def _run(stream: bytes, cuts: list[int], *, withhold: bool) -> tuple[bytes, OpenAIChatStreamFilter]:
    relay = OpenAIChatStreamFilter(withhold_usage=withhold)
    out: list[bytes] = []
    previous = 0
    for cut in [*cuts, len(stream)]:
        out.append(relay.feed(stream[previous:cut]))
        previous = cut
    out.append(relay.close())
    return b"".join(out), relay


def test_withholds_exactly_the_usage_chunk_at_every_split() -> None:
    with_usage = chat_events(REPLY, "gpt-5", include_usage=True)
    stream = b"".join(with_usage)
    usage_chunk = next(e for e in with_usage if b'"choices":[]' in e)
    expected = stream.replace(usage_chunk, b"")
    for cut in range(len(stream) + 1):
        relayed, relay = _run(stream, [cut], withhold=True)
        assert relayed == expected, cut
        assert relay.tap.usage == Usage(input_tokens=20, output_tokens=3, cache_read_tokens=4)
        assert relay.tap.finished


def test_byte_by_byte_with_crlf_line_endings() -> None:
    stream = b"".join(chat_events(REPLY, "gpt-5", include_usage=True)).replace(b"\n", b"\r\n")
    relayed, relay = _run(stream, list(range(1, len(stream))), withhold=True)
    assert b'"choices":[]' not in relayed
    assert relayed.endswith(b"data: [DONE]\r\n\r\n")
    assert relay.tap.usage is not None


def test_passes_every_byte_when_the_caller_asked_for_usage() -> None:
    stream = b"".join(chat_events(REPLY, "gpt-5", include_usage=True))
    relay = OpenAIChatStreamFilter(withhold_usage=False)
    chunk = stream[:50]
    assert relay.feed(chunk) is chunk
    assert relay.feed(stream[50:]) == stream[50:]
    assert relay.close() == b""
    assert relay.tap.usage is not None


def test_complete_events_are_released_at_once_and_partial_ones_held() -> None:
    events = chat_events(REPLY, "gpt-5", include_usage=True)
    relay = OpenAIChatStreamFilter(withhold_usage=True)
    assert relay.feed(events[0]) == events[0]
    assert relay.feed(events[1][:10]) == b""
    assert relay.feed(events[1][10:] + events[2][:5]) == events[1]


def test_keepalive_comments_pass_and_unterminated_tail_is_flushed_at_close() -> None:
    relay = OpenAIChatStreamFilter(withhold_usage=True)
    assert relay.feed(b": keep-alive\n\n") == b": keep-alive\n\n"
    assert relay.feed(b'data: {"choices": [{"delta": {"content": "x"}}]}\n') == b""
    assert relay.close() == b'data: {"choices": [{"delta": {"content": "x"}}]}\n'
