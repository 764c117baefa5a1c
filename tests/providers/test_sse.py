"""The incremental SSE parser: any split, any line ending, exact byte spans."""

from __future__ import annotations

import pytest

from spectra.providers.sse import SSEEvent, SSEParser

STREAM = (
    "event: message_start\n"
    'data: {"type":"message_start","text":"héllo ☃ 𝄞"}\n'
    "\n"
    ": keep-alive comment\n"
    "\n"
    "event: content_block_delta\n"
    "data: line one\n"
    "data:line two\n"
    "id: 7\n"
    "retry: 100\n"
    "\n"
    "data: [DONE]\n"
    "\n"
).encode()

EXPECTED = [
    ("message_start", '{"type":"message_start","text":"héllo ☃ 𝄞"}'),
    ("content_block_delta", "line one\nline two"),
    ("", "[DONE]"),
]


def _parse(chunks: list[bytes]) -> list[SSEEvent]:
    parser = SSEParser()
    events: list[SSEEvent] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    events.extend(parser.close())
    return events


def _pairs(events: list[SSEEvent]) -> list[tuple[str, str]]:
    return [(e.event, e.data) for e in events]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_every_two_way_split_yields_the_same_events(newline: bytes) -> None:
    stream = STREAM.replace(b"\n", newline)
    for cut in range(len(stream) + 1):
        events = _parse([stream[:cut], stream[cut:]])
        assert _pairs(events) == EXPECTED, (newline, cut)


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_byte_by_byte_feed_yields_the_same_events(newline: bytes) -> None:
    stream = STREAM.replace(b"\n", newline)
    events = _parse([stream[i : i + 1] for i in range(len(stream))])
    assert _pairs(events) == EXPECTED


def test_spans_cover_each_event_block_exactly() -> None:
    for cut in range(len(STREAM) + 1):
        events = _parse([STREAM[:cut], STREAM[cut:]])
        blocks = [STREAM[e.start : e.end] for e in events]
        assert blocks[0].startswith(b"event: message_start")
        assert blocks[1].startswith(b": keep-alive comment\n\nevent: content_block_delta") is False
        assert blocks[1].startswith(b"event: content_block_delta")
        assert blocks[2] == b"data: [DONE]\n\n"
        assert events[-1].end == len(STREAM)


def test_mixed_line_endings_are_all_understood() -> None:
    stream = b"event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\rdata: 3\n\r\n"
    for cut in range(len(stream) + 1):
        assert _pairs(_parse([stream[:cut], stream[cut:]])) == [("a", "1"), ("b", "2"), ("", "3")]


def test_utf8_sequence_split_across_chunks_decodes_whole() -> None:
    stream = "data: 𝄞☃é\n\n".encode()
    for cut in range(len(stream) + 1):
        assert _pairs(_parse([stream[:cut], stream[cut:]])) == [("", "𝄞☃é")]


def test_leading_bom_is_skipped_even_when_split() -> None:
    stream = b"\xef\xbb\xbfdata: x\n\n"
    for cut in range(len(stream) + 1):
        events = _parse([stream[:cut], stream[cut:]])
        assert _pairs(events) == [("", "x")]
        assert events[0].start == 3
        assert events[0].end == len(stream)


def test_unterminated_event_at_close_is_dropped() -> None:
    assert _parse([b"data: a\n\ndata: partial\n"]) == _parse([b"data: a\n\n"])


def test_lone_carriage_return_at_end_waits_for_more() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: a\r\r") == []
    events = parser.feed(b"\n")
    assert [(e.event, e.data, e.end) for e in events] == [("", "a", 10)]


def test_close_treats_a_final_carriage_return_as_a_line_end() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: a\r\r") == []
    assert [(e.event, e.data) for e in parser.close()] == [("", "a")]


def test_field_without_colon_and_empty_data() -> None:
    assert _pairs(_parse([b"data\n\ndata:\n\nevent\ndata: z\n\n"])) == [
        ("", ""),
        ("", ""),
        ("", "z"),
    ]


def test_boundary_advances_only_at_blank_lines() -> None:
    parser = SSEParser()
    parser.feed(b"data: a\n")
    assert parser.boundary == 0
    parser.feed(b"\n: ping\n")
    assert parser.boundary == 9
    parser.feed(b"\n")
    assert parser.boundary == 17
