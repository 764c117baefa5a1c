"""Odd JSON never crashes a translation: a request is translated or refused with a 4xx code,
an answer translated or reported as an unreadable upstream answer, and a stream event of the
wrong shape is passed over."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spectra.providers.translate import (
    StreamTranslator,
    TranslationRefusedError,
    UnreadableAnswerError,
    UnreadableBodyError,
    translate_request,
    translate_response,
)
from spectra.providers.types import WireProtocol

from .support import ANTHROPIC, CHAT, RESPONSES

KEYS = [
    "model",
    "messages",
    "input",
    "system",
    "instructions",
    "tools",
    "tool_choice",
    "content",
    "role",
    "type",
    "text",
    "id",
    "call_id",
    "name",
    "arguments",
    "input_schema",
    "function",
    "tool_calls",
    "tool_call_id",
    "tool_use_id",
    "source",
    "image_url",
    "thinking",
    "output_config",
    "reasoning",
    "stop",
    "stop_sequences",
    "metadata",
    "max_tokens",
    "stream",
    "choices",
    "delta",
    "index",
    "output",
    "item",
    "output_index",
    "usage",
    "error",
    "namespace",
    "summary",
    "encrypted_content",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from(
        [
            "",
            "x",
            "user",
            "assistant",
            "text",
            "tool_use",
            "function",
            "message",
            "function_call",
            "namespace",
        ]
    ),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)
    ),
    max_leaves=25,
)
bodies = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=8)
PAIRS = [
    (a, b) for a in (ANTHROPIC, CHAT, RESPONSES) for b in (ANTHROPIC, CHAT, RESPONSES) if a is not b
]


@pytest.mark.parametrize(("client", "upstream"), PAIRS, ids=lambda p: p.value)
@settings(max_examples=25, deadline=None)
@given(body=bodies, events=st.lists(bodies, max_size=6))
def test_odd_json_is_translated_or_refused(
    client: WireProtocol, upstream: WireProtocol, body: dict[str, Any], events: list[dict[str, Any]]
) -> None:
    try:
        translated = translate_request(body, client=client, upstream=upstream)
    except (TranslationRefusedError, UnreadableBodyError):  # both 4xx, with a stable code
        return
    with contextlib.suppress(UnreadableAnswerError):
        translate_response(body, translated.context)
    stream = StreamTranslator(translated.context)
    for event in events:
        stream.feed(event)
    stream.finish()
