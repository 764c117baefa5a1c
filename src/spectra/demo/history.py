"""Thirty days of synthetic traffic, replayed through the real gateway.

`plan()` is pure and deterministic (seeded by the start day): who sends which request when, with
what client, model and token counts. `replay()` sends each request to the gateway in this process
(`/v1/...` over ASGI) with the clock set to the request's time, so admission, holds, the pool
scheduler, failover, the fake upstream and settlement (ledger postings and usage records
written together by the group committer) all run exactly as for live traffic. Each request
carries a deterministic `x-request-id`; a second run skips the ids already recorded.
"""

from __future__ import annotations

import json
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from spectra.gateway import wiring as gateway_wiring
from spectra.kit import clock
from spectra.runtime import Runtime

from .upstream import DEMO_FIELD
from .workspace import ACCOUNTS, MEMBERS, Member

OPUS = "claude-opus-4-1"
ProgressFn = Callable[[str, int, int], None]
"""(what, done, total): called as the seeding moves on."""

_ANTHROPIC_HEADERS = {
    "anthropic-version": "2023-06-01",
    "anthropic-beta": "claude-code-20250219,prompt-caching-2024-07-31",
    "user-agent": "claude-cli/2.0.14 (external, cli)",
    "x-app": "cli",
}
_CODEX_HEADERS = {
    "user-agent": "codex_cli_rs/0.46.0 (Debian 12.0.0; x86_64) xterm-256color",
    "originator": "codex_cli_rs",
}
_SDK_HEADERS = {"user-agent": "OpenAI/Python 1.109.1"}


@dataclass(frozen=True, slots=True)
class Turn:
    """One synthetic request."""

    at: datetime
    request_id: str
    handle: str
    client: str
    model: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    fail_credential: str | None = None
    """Make the upstream answer 429 to the account with this credential (failover)."""


def request_prefix(start: datetime) -> str:
    return f"demo-{start:%Y%m%d}-"


def plan(start: datetime, *, days: int, volume: float = 1.0) -> list[Turn]:
    """Every request of the history, in time order. Same `start`, same plan."""
    rng = random.Random(f"spectra-demo:{start:%Y%m%d}:{days}:{volume}")
    drafts: list[tuple[datetime, Member, str, str, tuple[int, int, int, int]]] = []
    trouble_day = max(days - 4, 0)
    for day in range(days):
        midnight = start + timedelta(days=day)
        weekend = midnight.weekday() >= 5
        for member in MEMBERS:
            mean = member.per_day * volume * (0.1 if weekend else 1.0)
            count = round(mean * rng.uniform(0.6, 1.4))
            for _ in range(count):
                at = midnight + timedelta(seconds=rng.randint(30_600, 66_600))  # 08:30-18:30
                client = _client(member, rng)
                drafts.append(
                    (at, member, client, _model(member, client, rng), _tokens(member, client, rng))
                )
    for member in MEMBERS:
        if member.tries_opus:
            # Scenario 2.3: whatever the volume, he asks for Opus (refused) in the last week.
            for day, second in ((days - 5, 50_700), (days - 1, 37_800)):
                at = start + timedelta(days=max(day, 0), seconds=second)
                drafts.append(
                    (at, member, "claude_code", OPUS, _tokens(member, "claude_code", rng))
                )
    drafts.sort(key=lambda d: (d[0], d[1].handle))
    prefix = request_prefix(start)
    primary = ACCOUNTS[0].credential
    turns = []
    for number, (at, member, client, model, (inp, out, read, write)) in enumerate(drafts):
        in_trouble = (
            (at - start).days == trouble_day and 10 <= at.hour < 12 and model.startswith("claude")
        )
        turns.append(
            Turn(
                at=at,
                request_id=f"{prefix}{number:06d}",
                handle=member.handle,
                client=client,
                model=model,
                input_tokens=inp,
                output_tokens=out,
                cache_read_tokens=read,
                cache_write_tokens=write,
                fail_credential=primary if in_trouble else None,
            )
        )
    return turns


def _client(member: Member, rng: random.Random) -> str:
    if member.tool == "mixed":
        return "claude_code" if rng.random() < 0.6 else "codex_cli"
    return member.tool


def _model(member: Member, client: str, rng: random.Random) -> str:
    if client == "codex_cli":
        return "gpt-5-codex"
    if client == "openai_sdk":
        return "gpt-5" if rng.random() < 0.7 else "gpt-5-mini"
    if member.tries_opus and rng.random() < 0.12:
        return OPUS
    if rng.random() < member.opus_share:
        return OPUS
    return "claude-sonnet-4-5" if rng.random() < 0.8 else "claude-haiku-4-5"


def _tokens(member: Member, client: str, rng: random.Random) -> tuple[int, int, int, int]:
    """(input, output, cache read, cache write) for one turn of this client, scaled per member."""
    s = member.scale
    if client == "claude_code":
        write = int(rng.randint(3_000, 12_000) * s) if rng.random() < 0.2 else 0
        return (
            int(rng.randint(800, 4_000) * s),
            int(rng.randint(150, 2_200) * s),
            int(rng.randint(12_000, 70_000) * s),
            write,
        )
    if client == "codex_cli":
        return (
            int(rng.randint(1_500, 6_000) * s),
            int(rng.randint(200, 2_500) * s),
            int(rng.randint(8_000, 50_000) * s),
            0,
        )
    return (int(rng.randint(300, 3_000) * s), int(rng.randint(80, 900) * s), 0, 0)


def request_for(turn: Turn, secret: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    """(path, headers, JSON body) the turn's client would send."""
    usage = (
        f"input={turn.input_tokens},output={turn.output_tokens},"
        f"cache_read={turn.cache_read_tokens},cache_write={turn.cache_write_tokens}"
    )
    headers = {"x-request-id": turn.request_id}
    demo = {"usage": usage}
    if turn.fail_credential:
        demo["fail"] = turn.fail_credential
    prompt = "Refactor the retry loop in the sync worker and add a test for the backoff."
    if turn.client == "claude_code":
        headers.update(_ANTHROPIC_HEADERS, **{"x-api-key": secret})
        body: dict[str, Any] = {
            "model": turn.model,
            "max_tokens": 32_000,
            "stream": True,
            "system": [
                {
                    "type": "text",
                    "text": "You are Claude Code.",
                    "cache_control": {"type": "ephemeral"},
                }
            ],
            "messages": [{"role": "user", "content": prompt}],
            DEMO_FIELD: demo,
        }
        return "/v1/messages?beta=true", headers, body
    headers["authorization"] = f"Bearer {secret}"
    if turn.client == "codex_cli":
        headers.update(_CODEX_HEADERS)
        body = {
            "model": turn.model,
            "stream": True,
            "input": prompt,
            "store": False,
            DEMO_FIELD: demo,
        }
        return "/v1/responses", headers, body
    headers.update(_SDK_HEADERS)
    body = {
        "model": turn.model,
        "messages": [{"role": "user", "content": prompt}],
        DEMO_FIELD: demo,
    }
    return "/v1/chat/completions", headers, body


@dataclass(frozen=True, slots=True)
class Milestone:
    """Something an admin or member does during the month (idempotent), at `at`."""

    at: datetime
    label: str
    run: Callable[[], Awaitable[None]]


async def replay(
    runtime: Runtime,
    app: Any,
    turns: Sequence[Turn],
    *,
    secrets: Callable[[str], Awaitable[str]],
    milestones: Sequence[Milestone] = (),
    every_day: Callable[[], Awaitable[None]] | None = None,
    progress: ProgressFn | None = None,
) -> int:
    """Send `turns` through the gateway in time order with the clock at each turn's time, running
    `milestones` and `every_day` (renewals) as the replay passes them. Returns requests sent.

    The caller owns the clock: it must restore it afterwards (see `seed.replaying_clock`).
    """
    pending = sorted(milestones, key=lambda m: m.at)
    # One request at a time: waiting for more work to batch would only slow the replay down.
    delay, runtime.committer.max_delay = runtime.committer.max_delay, 0.0
    try:
        return await _replay(runtime, app, turns, pending, secrets, every_day, progress)
    finally:
        runtime.committer.max_delay = delay


async def _replay(
    runtime: Runtime,
    app: Any,
    turns: Sequence[Turn],
    pending: list[Milestone],
    secrets: Callable[[str], Awaitable[str]],
    every_day: Callable[[], Awaitable[None]] | None,
    progress: ProgressFn | None,
) -> int:
    transport = httpx.ASGITransport(app=app)
    sent = 0
    day: object = None
    last_hour: datetime | None = None
    async with httpx.AsyncClient(
        transport=transport, base_url="http://spectra.demo", timeout=60
    ) as client:
        for done, turn in enumerate(turns):
            hour = turn.at.replace(minute=0, second=0, microsecond=0)
            if hour != last_hour:
                # Settlements commit at the clock's time: let this hour's land before moving on.
                await _settled(runtime)
                last_hour = hour
            while pending and pending[0].at <= turn.at:
                milestone = pending.pop(0)
                clock.freeze(milestone.at)
                await milestone.run()
                await runtime.feed.poll_once()
            clock.freeze(turn.at)
            if every_day is not None and turn.at.date() != day:
                day = turn.at.date()
                await every_day()
                await runtime.feed.poll_once()
            path, headers, body = request_for(turn, await secrets(turn.handle))
            response = await client.post(path, headers=headers, content=json.dumps(body))
            await response.aread()
            sent += 1
            if progress is not None:
                progress("Replaying 30 days of traffic", done + 1, len(turns))
    await _settled(runtime)
    for milestone in pending:
        clock.freeze(milestone.at)
        await milestone.run()
    await runtime.feed.poll_once()
    return sent


async def _settled(runtime: Runtime) -> None:
    """Wait until the request's usage record and postings are committed (at this clock time)."""
    gateway = gateway_wiring.current()
    if gateway is None:
        return
    await gateway.settler.flush()
    await runtime.committer.flush()
    await gateway.settler.flush()
