"""CPU time of protocol translation alone, per request, in process (no gateway, no network).

For each translated scenario of bench/hotpath.py: the request body translated
(`translate_request`), then the answer bench/fake.py gives translated back — the whole body
(`translate_response` through gateway/translation.py's `translated_answer`) or the stream through
`SSEStreamTranslator`, fed one upstream event at a time as a slow upstream would, with a usage
tap observing it as the gateway's relay does. What the translated path adds to a request is this
work less what the untranslated relay does with the same answer anyway (`tap alone`: its usage
tap parsing the stream, or the body read once for usage): the `added` column.

    PYTHONPATH=. .venv/bin/python -m bench.translation [-n 2000] [--rounds 5]

On a loaded machine, `--per-event N` times each step alone over N streams instead (the
request's translation, then each upstream event, then the end) and adds up each step's
minimum, which load disturbs least; `tap alone` the same way.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.fakes.upstream import make_body, make_events

from bench.fake import REPLY
from spectra.gateway.translation import translated_answer
from spectra.providers.anthropic import AnthropicMessagesTap
from spectra.providers.openai import OpenAIChatTap, OpenAIResponsesTap
from spectra.providers.taps import StreamUsageTap
from spectra.providers.translate import SSEStreamTranslator, translate_request
from spectra.providers.types import WireProtocol

PROMPT = [{"role": "user", "content": "Say something about foxes and dogs, briefly."}]
WIRE = {
    WireProtocol.ANTHROPIC_MESSAGES: "anthropic",
    WireProtocol.OPENAI_CHAT: "chat",
    WireProtocol.OPENAI_RESPONSES: "responses",
}
TAPS: dict[WireProtocol, Callable[[], StreamUsageTap]] = {
    WireProtocol.ANTHROPIC_MESSAGES: AnthropicMessagesTap,
    WireProtocol.OPENAI_CHAT: OpenAIChatTap,
    WireProtocol.OPENAI_RESPONSES: OpenAIResponsesTap,
}


@dataclass(frozen=True)
class Case:
    name: str
    client: WireProtocol
    upstream: WireProtocol
    stream: bool


CASES = [
    Case("chat>msgs", WireProtocol.OPENAI_CHAT, WireProtocol.ANTHROPIC_MESSAGES, False),
    Case("chat>msgs-stream", WireProtocol.OPENAI_CHAT, WireProtocol.ANTHROPIC_MESSAGES, True),
    Case("msgs>chat", WireProtocol.ANTHROPIC_MESSAGES, WireProtocol.OPENAI_CHAT, False),
    Case("msgs>chat-stream", WireProtocol.ANTHROPIC_MESSAGES, WireProtocol.OPENAI_CHAT, True),
    Case("msgs>resp-stream", WireProtocol.ANTHROPIC_MESSAGES, WireProtocol.OPENAI_RESPONSES, True),
    # A Responses client (Codex) on a Claude or a Chat account.
    Case("resp>msgs-stream", WireProtocol.OPENAI_RESPONSES, WireProtocol.ANTHROPIC_MESSAGES, True),
    Case("resp>chat-stream", WireProtocol.OPENAI_RESPONSES, WireProtocol.OPENAI_CHAT, True),
]


def one(case: Case, answer: bytes | list[bytes]) -> None:
    body: dict[str, object] = {"model": "bench", "stream": case.stream}
    if case.client is WireProtocol.OPENAI_RESPONSES:
        body |= {"input": PROMPT, "max_output_tokens": 256}
    else:
        body |= {"messages": PROMPT, "max_tokens": 256}
    out = translate_request(body, client=case.client, upstream=case.upstream, created=1)
    json.dumps(out.body, ensure_ascii=False, separators=(",", ":")).encode()
    if isinstance(answer, bytes):
        translated_answer(answer, out.context)
        return
    translator = SSEStreamTranslator(out.context)
    translator.observe(TAPS[case.upstream]())
    for event in answer:
        translator.feed(event)
    translator.finish()


def tap_alone(case: Case, answer: bytes | list[bytes]) -> None:
    """What the untranslated relay does with the same upstream events: its usage tap."""
    if isinstance(answer, bytes):
        json.loads(answer)
        return
    tap = TAPS[case.upstream]()
    for event in answer:
        tap.feed(event)
    tap.close()


def _step_minima(steps: Callable[[], list[Callable[[], object]]], streams: int) -> float:
    """Sum over the steps of one stream (a fresh list per stream) of each step's least time."""
    best: list[float] = []
    clock = time.perf_counter_ns
    for _ in range(streams):
        for i, step in enumerate(steps()):
            started = clock()
            step()
            took = clock() - started
            if i == len(best):
                best.append(took)
            elif took < best[i]:
                best[i] = took
    return sum(best) / 1000


def per_event(case: Case, answer: list[bytes], streams: int) -> tuple[float, float]:
    """(translated, tap alone): sums of per-step minima in µs, for a streamed case."""
    state: dict[str, Any] = {}

    def start() -> None:
        body: dict[str, object] = {"model": "bench", "stream": True}
        if case.client is WireProtocol.OPENAI_RESPONSES:
            body |= {"input": PROMPT, "max_output_tokens": 256}
        else:
            body |= {"messages": PROMPT, "max_tokens": 256}
        out = translate_request(body, client=case.client, upstream=case.upstream, created=1)
        json.dumps(out.body, ensure_ascii=False, separators=(",", ":")).encode()
        state["t"] = SSEStreamTranslator(out.context)
        state["t"].observe(TAPS[case.upstream]())

    def translated() -> list[Callable[[], object]]:
        feeds = [functools.partial(lambda e: state["t"].feed(e), e) for e in answer]
        return [start, *feeds, lambda: state["t"].finish()]

    def tap() -> list[Callable[[], object]]:
        state["tap"] = TAPS[case.upstream]()
        feeds = [functools.partial(lambda e: state["tap"].feed(e), e) for e in answer]
        return [*feeds, lambda: state["tap"].close()]

    return _step_minima(translated, streams), _step_minima(tap, streams)


def _cpu(work: Callable[[], None], n: int, rounds: int) -> list[float]:
    for _ in range(200):
        work()
    cpu: list[float] = []
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(n):
            work()
        cpu.append((time.process_time() - started) / n * 1e6)
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-event", type=int, default=0, metavar="STREAMS")
    args = parser.parse_args()
    if args.per_event:
        for case in CASES:
            if case.stream:
                events = make_events(WIRE[case.upstream], REPLY, "bench", include_usage=True)
                done, base = per_event(case, events, args.per_event)
                print(f"{case.name:<18} {done:>8.1f} {base:>10.1f} {done - base:>6.1f}")
        return
    print(
        f"{'scenario':<18} {'cpu min':>8} {'cpu median':>10} {'tap alone':>10} {'added':>6}"
        f"   (µs/request; n={args.n}, {args.rounds} rounds)"
    )
    for case in CASES:
        wire = WIRE[case.upstream]
        answer: bytes | list[bytes] = (
            make_events(wire, REPLY, "bench", include_usage=True)
            if case.stream
            else make_body(wire, REPLY, "bench")
        )
        cpu = _cpu(functools.partial(one, case, answer), args.n, args.rounds)
        base = min(_cpu(functools.partial(tap_alone, case, answer), args.n, args.rounds))
        print(
            f"{case.name:<18} {min(cpu):>8.0f} {statistics.median(cpu):>10.0f} {base:>10.0f}"
            f" {min(cpu) - base:>6.0f}"
        )


if __name__ == "__main__":
    main()
