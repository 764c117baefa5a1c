"""OpenTelemetry traces: off by default and never touched then; on, one request span with its
admission, upstream and settle children and the request's attributes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tests.fakes.upstream import FakeUpstream, Reply

from spectra.config import Settings
from spectra.gateway import tracing
from spectra.gateway import wiring as gateway_wiring

from .world import ANTHROPIC_MODEL, OPENAI_MODEL, World

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def exporter(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    memory = InMemorySpanExporter()
    monkeypatch.setattr(tracing, "exporter", lambda: memory)
    return memory


def finished(memory: InMemorySpanExporter) -> dict[str, Any]:
    gw = gateway_wiring.current()
    assert gw is not None
    assert gw.tracing is not None
    gw.tracing.provider.force_flush()
    return {span.name: span for span in memory.get_finished_spans()}


class TestOn:
    @pytest.fixture
    def settings(self, settings: Settings, exporter: InMemorySpanExporter) -> Settings:
        return settings.model_copy(update={"otel": True})

    async def test_a_request_gives_a_span_tree(
        self,
        client: httpx.AsyncClient,
        pooled: World,
        fake: FakeUpstream,
        exporter: InMemorySpanExporter,
    ) -> None:
        fake.script(Reply(text="hello", pieces=2, input_tokens=21, output_tokens=5))
        body = {"model": OPENAI_MODEL, "messages": MESSAGES, "stream": True}
        async with client.stream(
            "POST", "/v1/chat/completions", headers=pooled.headers(), json=body
        ) as resp:
            await resp.aread()
        await pooled.settle()
        [record] = await pooled.records()
        spans = finished(exporter)
        assert set(spans) == {
            "gateway.request",
            "gateway.admission",
            "gateway.upstream",
            "gateway.settle",
        }
        root = spans["gateway.request"]
        for name in ("gateway.admission", "gateway.upstream", "gateway.settle"):
            assert spans[name].parent.span_id == root.context.span_id
            assert root.start_time <= spans[name].start_time <= spans[name].end_time
            assert spans[name].end_time <= root.end_time
        attrs = root.attributes
        assert attrs["spectra.model"] == OPENAI_MODEL
        assert attrs["spectra.account"] == str(pooled.accounts["openai-a"])
        assert attrs["spectra.status"] == "ok"
        assert (attrs["spectra.input_tokens"], attrs["spectra.output_tokens"]) == (21, 5)
        assert attrs["spectra.cost_micros"] == record.cost_micros > 0
        assert [e.name for e in spans["gateway.upstream"].events] == ["first_byte"]

    async def test_a_refusal_gives_a_span_with_its_code(
        self,
        client: httpx.AsyncClient,
        world: World,
        fake: FakeUpstream,
        exporter: InMemorySpanExporter,
    ) -> None:
        await world.add_account("a", provider="anthropic", base_url=fake.url, models=["claude-*"])
        resp = await client.post(
            "/v1/messages",
            headers=world.headers(anthropic=True),
            json={"model": ANTHROPIC_MODEL, "max_tokens": 10, "messages": MESSAGES},
        )
        assert resp.status_code == 402
        spans = finished(exporter)
        assert spans["gateway.request"].attributes["spectra.code"] == "wallet_empty"


async def test_off_the_tracer_is_never_touched(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    def touched(*args: object, **kwargs: object) -> None:
        raise AssertionError("tracing touched while SPECTRA_OTEL is off")

    for name in ("start", "answered", "recorded"):
        monkeypatch.setattr(tracing.Tracing, name, touched)
    monkeypatch.setattr(tracing, "exporter", touched)
    gw = gateway_wiring.current()
    assert gw is not None
    assert gw.tracing is None
    assert gw.settler.tracing is None
    fake.script(Reply(text="hello", input_tokens=3, output_tokens=2))
    ok = await client.post(
        "/v1/chat/completions",
        headers=pooled.headers(),
        json={"model": OPENAI_MODEL, "messages": MESSAGES},
    )
    assert ok.status_code == 200
    refused = await client.post(
        "/v1/chat/completions",
        headers=pooled.headers(),
        json={"model": "gpt-unpriced-nothing", "messages": MESSAGES},
    )
    assert refused.status_code >= 400
    await pooled.settle()
    assert {r.status for r in await pooled.records()} == {"ok", "refused"}
