"""Statements show cache writes by lifetime: a member's usage line carries the tokens behind
its amount, 5-minute and 1-hour cache writes apart, next to cache reads (API JSON, CSV and the
printable page; the console and the CLI show the same JSON)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import httpx
from tests.fakes.upstream import FakeUpstream, Reply

from spectra.audit.actor import Actor

from .world import ANTHROPIC_MODEL, OPENAI_MODEL, OWNER, World


async def _ask(client: httpx.AsyncClient, world: World, ttl: str | None) -> None:
    control: dict[str, str] = {"type": "ephemeral"}
    if ttl is not None:
        control["ttl"] = ttl
    resp = await client.post(
        "/v1/messages",
        headers=world.headers(anthropic=True),
        json={
            "model": ANTHROPIC_MODEL,
            "max_tokens": 100,
            "system": [{"type": "text", "text": "stable prompt", "cache_control": control}],
            "messages": [{"role": "user", "content": "hi"}],
        },
    )
    assert resp.status_code == 200, resp.text


async def test_usage_lines_show_cache_writes_by_lifetime(
    client: httpx.AsyncClient,
    pooled: World,
    fake: FakeUpstream,
    act_as: Callable[[Actor], None],
) -> None:
    fake.script(
        Reply(
            input_tokens=10,
            output_tokens=20,
            cache_read_tokens=500,
            cache_write_tokens=3000,
            cache_creation={"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000},
        ),
        Reply(
            input_tokens=5,
            output_tokens=7,
            cache_read_tokens=40,
            cache_write_tokens=300,
            cache_creation={"ephemeral_5m_input_tokens": 300, "ephemeral_1h_input_tokens": 0},
        ),
    )
    await _ask(client, pooled, "1h")
    await _ask(client, pooled, None)
    resp = await client.post(
        "/v1/chat/completions",
        headers=pooled.headers(),
        json={"model": OPENAI_MODEL, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert resp.status_code == 200, resp.text
    await pooled.settle()
    records = await pooled.records()
    sonnet = [r for r in records if r.model_requested == ANTHROPIC_MODEL]
    assert [(r.cache_write_tokens, r.cache_write_1h_tokens) for r in sonnet] == [
        (3000, 2000),
        (300, 0),
    ]
    (gpt,) = [r for r in records if r.model_requested == OPENAI_MODEL]

    act_as(OWNER)
    got = await client.get("/api/statements", params={"user": pooled.email})
    assert got.status_code == 200, got.text
    lines = {(line["category"], line["model"]): line for line in got.json()["lines"]}
    line = lines[("usage", ANTHROPIC_MODEL)]
    assert line["count"] == 2
    assert line["amount_micros"] == -sum(r.cost_micros for r in sonnet)
    assert (
        line["input_tokens"],
        line["output_tokens"],
        line["cache_read_tokens"],
        line["cache_write_5m_tokens"],
        line["cache_write_1h_tokens"],
    ) == (15, 27, 540, 1300, 2000)
    other = lines[("usage", OPENAI_MODEL)]
    assert (other["input_tokens"], other["output_tokens"]) == (
        gpt.input_tokens,
        gpt.output_tokens,
    )
    assert (other["cache_write_5m_tokens"], other["cache_write_1h_tokens"]) == (0, 0)
    recharge = lines[("recharges", None)]
    assert recharge["cache_write_1h_tokens"] is None  # no tokens behind a recharge

    exported = await client.get("/api/statements", params={"user": pooled.email, "format": "csv"})
    assert exported.status_code == 200, exported.text
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    (row,) = [r for r in rows if r["section"] == "line" and r["model"] == ANTHROPIC_MODEL]
    assert (row["cache_write_5m_tokens"], row["cache_write_1h_tokens"]) == ("1300", "2000")

    page = await client.get("/api/statements", params={"user": pooled.email, "format": "html"})
    assert page.status_code == 200
    assert "Cache write 1h" in page.text
    assert '<td class="num">1300</td><td class="num">2000</td>' in page.text
