"""`GET /metrics`: gateway requests by protocol/model/status/reason with latency and TTFB, and the
scrape-time gauges (pool states, open holds, settlement queue, rollup cursor)."""

from __future__ import annotations

import httpx
from tests.fakes.upstream import Fail, FakeUpstream

from .world import OPENAI_MODEL, World


async def test_metrics_count_served_and_refused_requests(
    client: httpx.AsyncClient, pooled: World
) -> None:
    body = {"model": OPENAI_MODEL, "messages": [{"role": "user", "content": "hi"}]}
    ok = await client.post("/v1/chat/completions", json=body, headers=pooled.headers())
    assert ok.status_code == 200
    refused = await client.post(
        "/v1/chat/completions", json=body, headers={"authorization": "Bearer sk-wrong"}
    )
    assert refused.status_code == 401
    await pooled.flush()
    text = (await client.get("/metrics")).text
    assert (
        f'spectra_gateway_requests_total{{model="{OPENAI_MODEL}",protocol="openai_chat",'
        'reason="",status="ok"}' in text
    )
    assert 'status="refused"' in text
    assert "spectra_gateway_request_duration_seconds_bucket" in text
    assert "spectra_gateway_time_to_first_byte_seconds_count" in text
    assert 'spectra_pool_accounts{state="active"} 2.0' in text
    assert "spectra_open_holds 0.0" in text
    assert "spectra_settlement_queue_depth 0.0" in text
    assert "spectra_rollup_pending_records" in text


async def test_metrics_count_upstream_errors_by_type_and_account(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream
) -> None:
    fake.script(Fail("server_error"))
    body = {"model": OPENAI_MODEL, "messages": [{"role": "user", "content": "hi"}]}
    answer = await client.post("/v1/chat/completions", json=body, headers=pooled.headers())
    assert answer.status_code >= 500
    await pooled.flush()
    text = (await client.get("/metrics")).text
    assert 'spectra_upstream_errors_total{account="openai-a",type="server_error"} 1.0' in text
    assert 'status="error"' in text
    assert "spectra_hold_store_up 1.0" in text
    assert "spectra_settlement_lag_seconds" in text
    assert "spectra_rollup_cursor_lag_seconds" in text
