"""The benchmark harness still works: the fake answers in each protocol, the bare proxy relays
it unchanged (streamed too), the stream load generator records first bytes and gaps, wrk's
summary parses, and the runner's table computes ratios. No timing is asserted."""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from bench.bare_proxy import BareProxy
from tests.gateway.world import serve

from bench import fake, loadgen, peer_litellm, run


@contextlib.asynccontextmanager
async def fake_upstream() -> AsyncIterator[str]:
    server = await fake.serve("127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


@contextlib.asynccontextmanager
async def bare_proxy(upstream: str) -> AsyncIterator[str]:
    proxy = BareProxy(upstream)
    try:
        async with serve(proxy) as url:
            yield url
    finally:
        await proxy.client.close()


async def post(url: str, body: dict[str, object]) -> tuple[int, str, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=body, headers={"authorization": "Bearer x"}) as resp,
    ):
        return resp.status, resp.headers.get("content-type", ""), await resp.read()


class TestFake:
    async def test_non_streamed_chat_carries_usage(self) -> None:
        async with fake_upstream() as url:
            status, ctype, raw = await post(url + "/v1/chat/completions", run.chat(False))
        assert status == 200
        assert ctype == "application/json"
        body = json.loads(raw)
        assert body["model"] == "bench-gpt"
        assert body["usage"]["prompt_tokens"] > 0

    async def test_streamed_messages_end_with_message_stop(self) -> None:
        async with fake_upstream() as url:
            status, ctype, raw = await post(url + "/v1/messages", run.messages(True))
        assert status == 200
        assert ctype.startswith("text/event-stream")
        assert b"event: message_start" in raw
        assert raw.rstrip().endswith(b'data: {"type":"message_stop"}')

    async def test_chat_stream_sends_usage_only_when_asked(self) -> None:
        asked = {**run.chat(True), "stream_options": {"include_usage": True}}
        async with fake_upstream() as url:
            _, _, plain = await post(url + "/v1/chat/completions", run.chat(True))
            _, _, with_usage = await post(url + "/v1/chat/completions", asked)
        assert b'"usage"' not in plain
        assert b'"usage"' in with_usage
        assert plain.rstrip().endswith(b"data: [DONE]")

    async def test_responses_and_unknown_paths(self) -> None:
        async with fake_upstream() as url:
            status, _, raw = await post(url + "/v1/responses", {"model": "m"})
            missing, _, _ = await post(url + "/v1/nothing", {"model": "m"})
        assert status == 200
        assert json.loads(raw)["usage"]["input_tokens"] > 0
        assert missing == 404


class TestBareProxy:
    async def test_relays_a_body_unchanged(self) -> None:
        async with fake_upstream() as upstream, bare_proxy(upstream) as proxy:
            direct = await post(upstream + "/v1/chat/completions", run.chat(False))
            relayed = await post(proxy + "/v1/chat/completions", run.chat(False))
        assert relayed == direct

    async def test_relays_a_delayed_stream_chunk_by_chunk(self) -> None:
        async with fake_upstream() as upstream, bare_proxy(upstream) as proxy:
            result = await loadgen.run_streams(
                proxy + "/v1/chat/completions",
                headers={"authorization": "Bearer x", "content-type": "application/json"},
                body=json.dumps(run.chat(True, delay=5)).encode(),
                concurrency=2,
                seconds=30,
                max_requests=4,
            )
        assert (result.requests, result.errors, result.non_2xx) == (4, 0, 0)
        assert len(result.ttfb_ms) == 4
        # one gap per event after the first: the proxy did not buffer the stream
        assert len(result.gaps_ms) >= 4 * 10
        assert result.pct("gaps", 50) is not None


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
async def test_wrk_summary_parses(tmp_path: Path) -> None:
    body = tmp_path / "body.json"
    body.write_text(json.dumps(run.chat(False)))
    async with fake_upstream() as upstream:
        import asyncio

        result = await asyncio.to_thread(
            loadgen.run_wrk,
            upstream + "/v1/chat/completions",
            body_file=body,
            header="authorization",
            value="Bearer x",
            connections=2,
            seconds=1,
        )
    assert result.requests > 0
    assert (result.errors, result.non_2xx) == (0, 0)
    assert result.pct("latency", 50) is not None


def test_table_has_ratios_against_bare_and_direct() -> None:
    rows = [
        run.Row("chat c16", "direct", rps=1000.0, p50=1.0, p99=2.0),
        run.Row("chat c16", "bare", rps=500.0, p50=2.0, p99=4.0),
        run.Row("chat c16", "spectra-sqlite", rps=250.0, p50=3.0, p99=7.0),
    ]
    run.ratios(rows)
    assert rows[2].vs_bare.startswith("0.50x rps, +1.00/+3.00 ms")
    assert rows[2].vs_direct.startswith("0.25x rps, +2.00/+5.00 ms")
    text = run.table(rows)
    assert text.count("\n") == 4
    assert "spectra-sqlite" in text


def test_spectra_rows_compare_with_the_litellm_peer() -> None:
    rows = [
        run.Row("chat c16", "litellm", rps=100.0, p50=10.0, p99=30.0, cpu_ms=12.0),
        run.Row("chat c16", "spectra-sqlite", rps=1500.0, p50=8.0, p99=35.0, cpu_ms=0.6),
        run.Row("chat c1", "spectra-sqlite", rps=900.0, p50=1.0, p99=2.0),
    ]
    run.ratios(rows)
    assert rows[1].vs_litellm == "15.0x rps, -2.00/+5.00 ms, 0.050x cpu/req"
    assert rows[0].vs_litellm == ""  # the peer is not compared with itself
    assert rows[2].vs_litellm == ""  # no LiteLLM row in that scenario
    text = run.table(rows)
    assert "Spectra/LiteLLM" in text.splitlines()[0]
    assert "15.0x rps" in text


def test_litellm_config_names_both_models_on_the_fake_upstream() -> None:
    config = json.loads(peer_litellm.config_text("http://127.0.0.1:9/", "sk-master"))
    assert config["general_settings"]["master_key"] == "sk-master"
    params = {m["model_name"]: m["litellm_params"] for m in config["model_list"]}
    assert params[run.chat(False)["model"]]["model"] == "openai/bench-gpt"
    assert params[run.chat(False)["model"]]["api_base"] == "http://127.0.0.1:9/v1"
    assert params[run.messages(False)["model"]]["model"] == "anthropic/bench-claude"
    assert params[run.messages(False)["model"]]["api_base"] == "http://127.0.0.1:9"
    assert {p["api_key"] for p in params.values()} == {run.UPSTREAM_KEY}


@pytest.mark.slow
@pytest.mark.skipif(
    not (peer_litellm.VENV / ".spectra-bench-installed").exists(),
    reason="LiteLLM's proxy is installed by `make bench` (bench/peer_litellm.py) on first use",
)
def test_litellm_gets_2xx_answers_from_the_fake(tmp_path: Path) -> None:
    """LiteLLM goes through the openai and anthropic SDKs: the fake must answer them as the
    real APIs do, or the peer's numbers would be error paths."""
    import asyncio

    from bench import procs

    fake_child = procs.start_module(
        "fake", "bench.fake", marker="BENCH_FAKE_URL", log=tmp_path / "fake.log"
    )
    try:
        peer, key = peer_litellm.start(fake_child.url, tmp_path, procs.free_port())
    except BaseException:
        fake_child.stop()
        raise

    async def ask() -> list[tuple[int, bytes]]:
        answers = []
        anthropic = {"x-api-key": key, "anthropic-version": "2023-06-01"}
        for path, body, headers in (
            ("/v1/chat/completions", run.chat(False), {"authorization": f"Bearer {key}"}),
            ("/v1/chat/completions", run.chat(True), {"authorization": f"Bearer {key}"}),
            ("/v1/messages", run.messages(True), anthropic),
            ("/v1/chat/completions", run.chat(False), {"authorization": "Bearer sk-wrong"}),
        ):
            async with (
                aiohttp.ClientSession() as session,
                session.post(peer.url + path, json=body, headers=headers) as resp,
            ):
                answers.append((resp.status, await resp.read()))
        return answers

    try:
        answers = asyncio.run(ask())
    finally:
        peer.stop()
        fake_child.stop()
    (chat_status, chat), (stream_status, stream), (msg_status, msg), (bad_key, _) = answers
    assert chat_status == 200
    assert json.loads(chat)["usage"]["completion_tokens"] > 0
    assert stream_status == 200
    assert stream.rstrip().endswith(b"data: [DONE]")
    assert msg_status == 200
    assert b"event: message_stop" in msg
    assert bad_key in (400, 401, 403), "the master key is enforced"
