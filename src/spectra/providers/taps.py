"""The base of the per-protocol stream taps: parse a relayed stream for usage, never alter it.

Cut-stream estimate: when a stream ends before the upstream reported output usage, output
tokens are estimated as ceil(characters of generated text, reasoning and tool-argument
deltas / 4), the common rule of thumb for English and code. `metered` takes the larger of
that estimate and any output count already reported, so a cut stream is billed for what was
relayed; counts that are not sane are estimated or clamped (`metering.meter`).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from .metering import CHARS_PER_TOKEN, Metered, estimate_tokens_from_chars, meter
from .sse import SSEEvent, SSEParser
from .types import Usage, cache_writes

__all__ = ["CHARS_PER_TOKEN", "StreamUsageTap", "estimate_tokens_from_chars"]


class StreamUsageTap:
    """Feed it every relayed chunk; read `usage`, `finished`, `model`, `saw_output`, `error`."""

    def __init__(self) -> None:
        self._parser = SSEParser()
        self._input: int | None = None
        self._output: int | None = None
        self._cache_read: int | None = None
        self._cache_write: int | None = None
        self._cache_write_5m: int | None = None
        self._cache_write_1h: int | None = None
        self._web_searches: int | None = None
        self.finished = False
        """The stream's own end marker was seen (message_stop, [DONE], response.completed)."""
        self.model: str | None = None
        """The model the upstream says served the request, when it reports one."""
        self.saw_output = False
        """Any generated content (text, reasoning, tool call) was seen."""
        self.output_chars = 0
        """Characters of generated deltas, for the cut-stream estimate."""
        self.error: dict[str, Any] | None = None
        """The payload of an error event inside the stream, if one arrived."""
        self.anomalies: list[str] = []
        """What was wrong with the reported usage counts (see `types.token_count`)."""

    def feed(self, chunk: bytes) -> None:
        for event in self._parser.feed(chunk):
            self.on_event(event)

    def close(self) -> None:
        """Call at end of stream so a final event without a trailing blank line is not lost."""
        for event in self._parser.close():
            self.on_event(event)

    def on_event(self, event: SSEEvent) -> bool:
        """Handle one event; return True when it is the OpenAI chat usage-only chunk. Its data
        is parsed here and read by `on_parsed`; data that is not JSON is passed over."""
        try:
            obj = json.loads(event.data)
        except ValueError:
            return False
        return self.on_parsed(event, obj)

    def on_parsed(self, event: SSEEvent, obj: object) -> bool:
        """`on_event` for an event whose data a caller has already parsed (`obj`, what
        `json.loads(event.data)` gave), so one parse serves the tap and a translator."""
        raise NotImplementedError

    @property
    def usage(self) -> Usage | None:
        """The latest usage the upstream reported, or None if it reported none."""
        if (
            self._input is None
            and self._output is None
            and self._cache_read is None
            and not self.anomalies
        ):
            return None
        cache_write, write_1h = cache_writes(
            self._cache_write, self._cache_write_5m, self._cache_write_1h
        )
        return Usage(
            input_tokens=self._input or 0,
            output_tokens=self._output or 0,
            cache_read_tokens=self._cache_read or 0,
            cache_write_tokens=cache_write or 0,
            cache_write_1h_tokens=write_1h,
            web_search_calls=self._web_searches or 0,
            input_missing=self._input is None,
            output_missing=self._output is None,
            anomalies=tuple(dict.fromkeys(self.anomalies)),
        )

    @property
    def estimated_output_tokens(self) -> int:
        return estimate_tokens_from_chars(self.output_chars)

    def metered(self, *, input_tokens_estimate: int, window: int | None = None) -> Metered:
        """Usage to bill (`metering.meter`): what the upstream reported for a finished stream,
        with what it did not report estimated; for a cut stream, the reported counts topped
        up by the estimates (the larger of reported and relayed-text output counts)."""
        reported = self.usage
        if reported is not None and not self.finished:
            reported = replace(reported, output_missing=True)
        return meter(
            reported,
            input_estimate=input_tokens_estimate,
            output_estimate=self.estimated_output_tokens,
            window=window,
        )

    def billable_usage(self, *, input_tokens_estimate: int) -> Usage:
        """`metered(...).usage`."""
        return self.metered(input_tokens_estimate=input_tokens_estimate).usage

    def take_usage(self, usage: Usage) -> None:
        """Keep a parsed usage object's counts (its missing ones stay unknown)."""
        self.anomalies.extend(usage.anomalies)
        self._set_usage(
            input_tokens=None if usage.input_missing else usage.input_tokens,
            output_tokens=None if usage.output_missing else usage.output_tokens,
            cache_read=usage.cache_read_tokens,
            cache_write=None,
            web_searches=usage.web_search_calls or None,
        )

    def _set_usage(
        self,
        *,
        input_tokens: int | None,
        output_tokens: int | None,
        cache_read: int | None,
        cache_write: int | None,
        cache_write_5m: int | None = None,
        cache_write_1h: int | None = None,
        web_searches: int | None = None,
    ) -> None:
        """Keep the latest non-null value of each field."""
        if cache_write_5m is not None:
            self._cache_write_5m = cache_write_5m
        if cache_write_1h is not None:
            self._cache_write_1h = cache_write_1h
        if web_searches is not None:
            self._web_searches = web_searches
        if input_tokens is not None:
            self._input = input_tokens
        if output_tokens is not None:
            self._output = output_tokens
        if cache_read is not None:
            self._cache_read = cache_read
        if cache_write is not None:
            self._cache_write = cache_write
