"""Metering: reported token counts validated, missing ones estimated, absurd ones clamped."""

from __future__ import annotations

import math
from typing import Any

import pytest
from tests.fakes.upstream import Reply, anthropic_events

from spectra.providers import anthropic, openai
from spectra.providers.anthropic import AnthropicMessagesTap
from spectra.providers.context import MAX_CHOICES, server_context
from spectra.providers.metering import meter
from spectra.providers.types import Usage, WireProtocol, token_count


@pytest.mark.parametrize(
    ("value", "expected", "noted"),
    [
        (None, None, False),
        (12, 12, False),
        (12.0, 12, False),
        (12.5, 13, True),
        (-5, None, True),
        ("12", None, True),
        (True, None, True),
        (math.nan, None, True),
        (math.inf, None, True),
        (10**30, 10**30, False),  # a size: checked against the model's window by `meter`
    ],
)
def test_token_count(value: Any, expected: int | None, noted: bool) -> None:
    anomalies: list[str] = []
    assert token_count(value, "input_tokens", anomalies) == expected
    assert bool(anomalies) == noted


def test_invalid_counts_are_missing_and_estimated() -> None:
    usage = anthropic.usage_from_dict({"input_tokens": "lots", "output_tokens": math.nan})
    assert usage.input_missing
    assert usage.output_missing
    metered = meter(usage, input_estimate=40, output_estimate=7, window=1000)
    assert metered.usage == Usage(input_tokens=40, output_tokens=7)
    assert metered.estimated
    assert len(metered.anomalies) == 2


def test_counts_over_the_window_are_clamped_prompt_classes_sharing_it() -> None:
    usage = Usage(
        input_tokens=600, cache_write_tokens=600, cache_read_tokens=10**18, output_tokens=10**30
    )
    metered = meter(usage, input_estimate=1, output_estimate=1, window=1000)
    assert metered.usage == Usage(
        input_tokens=600, cache_write_tokens=400, cache_read_tokens=0, output_tokens=1000
    )
    assert metered.estimated
    assert len(metered.anomalies) == 3


def test_sane_usage_is_billed_as_reported() -> None:
    usage = openai.chat_usage_from_dict(
        {
            "prompt_tokens": 100,
            "completion_tokens": 5,
            "prompt_tokens_details": {"cached_tokens": 40},
        }
    )
    metered = meter(usage, input_estimate=999, output_estimate=999, window=1000)
    assert metered.usage == Usage(input_tokens=60, output_tokens=5, cache_read_tokens=40)
    assert not metered.estimated
    assert metered.anomalies == ()


def test_cached_more_than_the_input_is_noted_and_capped() -> None:
    usage = openai.responses_usage_from_dict(
        {"input_tokens": 10, "output_tokens": 1, "input_tokens_details": {"cached_tokens": 99}}
    )
    assert (usage.input_tokens, usage.cache_read_tokens) == (0, 10)
    assert usage.anomalies


def test_a_stream_whose_final_count_is_not_a_count_is_estimated() -> None:
    # message_start says output_tokens 1; the final message_delta sends garbage instead of
    # the real count: the output is estimated from the relayed text, not billed as 1.
    reply = Reply(text="y" * 400, pieces=4)
    tap = AnthropicMessagesTap()
    for event in anthropic_events(reply, "claude-sonnet-4-5"):
        tap.feed(event.replace(b'"output_tokens":4}', b'"output_tokens":"many"}'))
    metered = tap.metered(input_tokens_estimate=5, window=200_000)
    assert metered.usage.output_tokens == 100
    assert metered.usage.input_tokens == reply.input_tokens
    assert metered.estimated
    assert metered.anomalies


def test_chat_n_is_bounded() -> None:
    context = server_context(WireProtocol.OPENAI_CHAT, {"n": 10**9, "messages": []})
    assert context.choices == MAX_CHOICES
