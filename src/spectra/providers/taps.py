"""The base of the per-protocol stream taps: parse a relayed stream for usage, never alter it.

Cut-stream estimate: when a stream ends before the upstream reported output usage, output
tokens are estimated as ceil(characters of generated text, reasoning and tool-argument
deltas / 4), the common rule of thumb for English and code. `billable_usage` takes the larger
of that estimate and any output count already reported, so a cut stream is billed for
what was relayed.
"""

from __future__ import annotations

from typing import Any

from .sse import SSEEvent, SSEParser
from .types import Usage

CHARS_PER_TOKEN = 4


def estimate_tokens_from_chars(chars: int) -> int:
    """ceil(chars / 4): the cut-stream and request-size estimate used throughout."""
    return -(-chars // CHARS_PER_TOKEN) if chars > 0 else 0


class StreamUsageTap:
    """Feed it every relayed chunk; read `usage`, `finished`, `model`, `saw_output`, `error`."""

    def __init__(self) -> None:
        self._parser = SSEParser()
        self._input: int | None = None
        self._output: int | None = None
        self._cache_read: int | None = None
        self._cache_write: int | None = None
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

    def feed(self, chunk: bytes) -> None:
        for event in self._parser.feed(chunk):
            self.on_event(event)

    def close(self) -> None:
        """Call at end of stream so a final event without a trailing blank line is not lost."""
        for event in self._parser.close():
            self.on_event(event)

    def on_event(self, event: SSEEvent) -> bool:
        """Handle one event; return True when it is the OpenAI chat usage-only chunk."""
        raise NotImplementedError

    @property
    def usage(self) -> Usage | None:
        """The latest usage the upstream reported, or None if it reported none."""
        if self._input is None and self._output is None and self._cache_read is None:
            return None
        return Usage(
            input_tokens=self._input or 0,
            output_tokens=self._output or 0,
            cache_read_tokens=self._cache_read or 0,
            cache_write_tokens=self._cache_write or 0,
        )

    @property
    def estimated_output_tokens(self) -> int:
        return estimate_tokens_from_chars(self.output_chars)

    def billable_usage(self, *, input_tokens_estimate: int) -> Usage:
        """Usage to bill: the reported usage for a finished stream, else reported counts
        topped up by the estimates (input from the request, output from relayed text)."""
        reported = self.usage
        if reported is not None and self.finished:
            return reported
        if reported is None:
            return Usage(
                input_tokens=input_tokens_estimate, output_tokens=self.estimated_output_tokens
            )
        input_tokens = reported.input_tokens
        if self._input is None and not reported.cache_read_tokens:
            input_tokens = input_tokens_estimate
        return Usage(
            input_tokens=input_tokens,
            output_tokens=max(reported.output_tokens, self.estimated_output_tokens),
            cache_read_tokens=reported.cache_read_tokens,
            cache_write_tokens=reported.cache_write_tokens,
        )

    def _set_usage(
        self,
        *,
        input_tokens: int | None,
        output_tokens: int | None,
        cache_read: int | None,
        cache_write: int | None,
    ) -> None:
        """Keep the latest non-null value of each field."""
        if input_tokens is not None:
            self._input = input_tokens
        if output_tokens is not None:
            self._output = output_tokens
        if cache_read is not None:
            self._cache_read = cache_read
        if cache_write is not None:
            self._cache_write = cache_write
