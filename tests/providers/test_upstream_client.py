"""The aiohttp upstream client against the fake: streaming without buffering, timeouts and
connection failures mapped once to the taxonomy."""

from __future__ import annotations

import asyncio
import socket

import pytest
from tests.fakes.upstream import Fail, FakeUpstream, Hang, Reply, Reset

from spectra.providers import (
    FailureType,
    Provider,
    Timeouts,
    UpstreamClient,
    UpstreamFailure,
    UpstreamResponse,
    WireProtocol,
    make_tap,
    upstream_headers,
)

KEY = "sk-fake-upstream"
FAST = Timeouts(connect=1.0, first_byte=0.3, idle=0.3)
STREAM_BODY = b'{"model": "claude-sonnet-4-5", "stream": true, "max_tokens": 64}'


def _anthropic_headers() -> list[tuple[str, str]]:
    caller = [
        ("content-type", "application/json"),
        ("anthropic-beta", "interleaved-thinking-2025-05-14"),
        ("x-api-key", "member"),
    ]
    return upstream_headers(Provider.ANTHROPIC, caller, api_key=KEY)


async def _send(
    client: UpstreamClient, fake: FakeUpstream, timeouts: Timeouts = FAST
) -> UpstreamResponse:
    return await client.send(
        "POST",
        f"{fake.url}/v1/messages?beta=true",
        headers=_anthropic_headers(),
        body=STREAM_BODY,
        timeouts=timeouts,
    )


async def test_stream_round_trip_sends_only_the_given_headers(
    fake_upstream: FakeUpstream, upstream_client: UpstreamClient
) -> None:
    resp = await upstream_client.send(
        "POST",
        f"{fake_upstream.url}/v1/messages?beta=true",
        headers=_anthropic_headers(),
        body=STREAM_BODY,
    )
    tap = make_tap(WireProtocol.ANTHROPIC_MESSAGES)
    async with resp:
        assert resp.status == 200
        async for chunk in resp.iter_chunks():
            tap.feed(chunk)
    assert tap.finished
    assert tap.usage is not None
    request = fake_upstream.requests[-1]
    assert request.query == "beta=true"
    assert request.body == STREAM_BODY
    names = sorted(k.lower() for k, _ in request.headers)
    assert names == sorted(
        [
            "host",
            "content-type",
            "anthropic-beta",
            "anthropic-version",
            "x-api-key",
            "content-length",
        ]
    )
    assert request.header("x-api-key") == KEY


async def test_chunks_arrive_as_sent_without_buffering(
    fake_upstream: FakeUpstream, upstream_client: UpstreamClient
) -> None:
    gate = asyncio.Event()
    fake_upstream.script(Reply(gate=gate))
    resp = await _send(upstream_client, fake_upstream, Timeouts(first_byte=5, idle=5))
    async with resp:
        chunks = resp.iter_chunks()
        first = await asyncio.wait_for(anext(chunks), 2)
        assert first.startswith(b"event: message_start")
        assert b"message_stop" not in first
        gate.set()
        rest = b"".join([chunk async for chunk in chunks])
    assert rest.endswith(b'data: {"type":"message_stop"}\n\n')


async def test_first_byte_timeout(
    fake_upstream: FakeUpstream, upstream_client: UpstreamClient
) -> None:
    fake_upstream.script(Hang(seconds=30))
    with pytest.raises(UpstreamFailure) as info:
        await _send(upstream_client, fake_upstream)
    assert (info.value.type, info.value.phase) == (FailureType.TIMEOUT, "first_byte")
    assert isinstance(info.value.__cause__, TimeoutError)


async def test_idle_timeout_between_chunks(
    fake_upstream: FakeUpstream, upstream_client: UpstreamClient
) -> None:
    fake_upstream.script(Reply(gate=asyncio.Event()))  # never released
    resp = await _send(upstream_client, fake_upstream)
    chunks = resp.iter_chunks()
    await anext(chunks)
    with pytest.raises(UpstreamFailure) as info:
        await anext(chunks)
    assert (info.value.type, info.value.phase) == (FailureType.TIMEOUT, "idle")
    resp.close()


async def test_reset_before_headers_is_a_connect_error(
    fake_upstream: FakeUpstream, upstream_client: UpstreamClient
) -> None:
    fake_upstream.script(Reset())
    with pytest.raises(UpstreamFailure) as info:
        await _send(upstream_client, fake_upstream)
    assert info.value.type is FailureType.CONNECT_ERROR
    assert info.value.retryable_elsewhere
    assert info.value.__cause__ is not None


async def test_stream_cut_midway_is_stream_broken(
    fake_upstream: FakeUpstream, upstream_client: UpstreamClient
) -> None:
    fake_upstream.script(Reply(text="abcdef", pieces=3, cut_after=3))
    resp = await _send(upstream_client, fake_upstream)
    tap = make_tap(WireProtocol.ANTHROPIC_MESSAGES)

    async def relay() -> None:
        async for chunk in resp.iter_chunks():
            tap.feed(chunk)

    with pytest.raises(UpstreamFailure) as info:
        await relay()
    assert info.value.type is FailureType.STREAM_BROKEN
    assert not tap.finished
    assert tap.saw_output
    assert tap.billable_usage(input_tokens_estimate=1).output_tokens >= 1


async def test_connection_refused_is_a_connect_error(upstream_client: UpstreamClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(UpstreamFailure) as info:
        await upstream_client.send(
            "POST", f"http://127.0.0.1:{port}/v1/messages", headers=[], body=b"{}", timeouts=FAST
        )
    assert info.value.type is FailureType.CONNECT_ERROR


async def test_connect_timeout(upstream_client: UpstreamClient) -> None:
    # A listener that never accepts, its backlog filled: the next SYN gets no answer.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        await asyncio.sleep(0.05)
        timeouts = Timeouts(connect=0.2, first_byte=5, idle=5)
        with pytest.raises(UpstreamFailure) as info:
            await upstream_client.send(
                "GET", f"http://127.0.0.1:{port}/", headers=[], timeouts=timeouts
            )
    finally:
        for filler in fillers:
            filler.close()
        server.close()
    if info.value.phase != "connect":
        pytest.skip("this kernel answered the SYN; connect timeout not reproducible here")
    assert info.value.type is FailureType.TIMEOUT


async def test_typed_error_is_returned_then_classified(
    fake_upstream: FakeUpstream, upstream_client: UpstreamClient
) -> None:
    fake_upstream.script(Fail("rate_limited", retry_after="4"))
    resp = await _send(upstream_client, fake_upstream)
    with pytest.raises(UpstreamFailure) as info:
        await resp.raise_for_failure("anthropic")
    failure = info.value
    assert (failure.type, failure.status, failure.retry_after) == (
        FailureType.RATE_LIMITED,
        429,
        4.0,
    )
    assert b"rate_limit_error" in failure.body
    assert ("retry-after", "4") in failure.headers


async def test_wrong_credential_is_auth_failed(
    fake_upstream: FakeUpstream, upstream_client: UpstreamClient
) -> None:
    headers = upstream_headers(Provider.ANTHROPIC, [], api_key="sk-wrong")
    resp = await upstream_client.send(
        "POST", f"{fake_upstream.url}/v1/messages", headers=headers, body=STREAM_BODY
    )
    with pytest.raises(UpstreamFailure) as info:
        await resp.raise_for_failure("anthropic")
    assert info.value.type is FailureType.AUTH_FAILED


async def test_encoded_response_is_not_decompressed(
    fake_upstream: FakeUpstream, upstream_client: UpstreamClient
) -> None:
    fake_upstream.script(Reply(extra_headers={"content-encoding": "gzip"}))
    resp = await upstream_client.send(
        "POST",
        f"{fake_upstream.url}/v1/chat/completions",
        headers=upstream_headers(Provider.OPENAI, [("accept-encoding", "gzip")], api_key=KEY),
        body=b'{"model": "gpt-5"}',
    )
    async with resp:
        body = await resp.read()
    assert resp.headers["content-encoding"] == "gzip"
    assert body.startswith(b'{"id": "chatcmpl-fake01"')  # raw bytes, no gunzip attempted


async def test_abort_mid_stream_closes_cleanly(
    fake_upstream: FakeUpstream, upstream_client: UpstreamClient
) -> None:
    fake_upstream.script(Reply(text="abc", pieces=3, chunk_delay=0.05))
    resp = await _send(upstream_client, fake_upstream, Timeouts(first_byte=5, idle=5))
    chunks = resp.iter_chunks()
    await anext(chunks)
    resp.close()
    await chunks.aclose()
    again = await _send(upstream_client, fake_upstream, Timeouts(first_byte=5, idle=5))
    async with again:
        assert (await again.read()).endswith(b'message_stop"}\n\n')
