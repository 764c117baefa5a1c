"""The hot path does no database round trip per request in steady state: over 100 warm
requests, every SQL statement comes from the group committer or the change-feed poll."""

from __future__ import annotations

import asyncio
import traceback
from typing import Any

import httpx
from sqlalchemy import event
from tests.fakes.upstream import FakeUpstream

from .world import ANTHROPIC_MODEL, OPENAI_MODEL, World

ALLOWED_TASKS = {"group-committer", "change-feed"}


async def test_no_sql_outside_the_committer_and_the_feed_over_100_warm_requests(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream
) -> None:
    await pooled.give_package("Starter", allowance="20", patterns=["claude-*"])
    requests = [
        (
            "/v1/messages",
            pooled.headers(anthropic=True),
            {
                "model": ANTHROPIC_MODEL,
                "max_tokens": 64000,
                "stream": True,
                "messages": [{"role": "user", "content": "hi"}],
            },
        ),
        (
            "/v1/chat/completions",
            pooled.headers(),
            {
                "model": OPENAI_MODEL,
                "stream": True,
                "messages": [{"role": "user", "content": "hi"}],
            },
        ),
        ("/v1/responses", pooled.headers(), {"model": OPENAI_MODEL, "input": "hi"}),
    ]
    for path, headers, body in requests:  # warm: first reads of balances, the expense account
        assert (await client.post(path, headers=headers, json=body)).status_code == 200
    await pooled.settle()

    outside: list[str] = []
    engines = {pooled.runtime.db.engine.sync_engine, pooled.runtime.db.read_engine.sync_engine}

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        task = asyncio.current_task()
        name = task.get_name() if task is not None else "<no task>"
        if name not in ALLOWED_TASKS:
            outside.append(
                f"{name}: {statement[:120]}\n{''.join(traceback.format_stack(limit=12))}"
            )

    for engine in engines:
        event.listen(engine, "before_cursor_execute", on_execute)
    try:
        for i in range(100):
            path, headers, body = requests[i % len(requests)]
            resp = await client.post(path, headers=headers, json=body)
            assert resp.status_code == 200, resp.text
        await pooled.flush()
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", on_execute)
    assert outside == [], outside[0]
    records = await pooled.records()
    assert len(records) == 103
    assert all(r.cost_micros > 0 and r.ledger_transaction_id for r in records)
