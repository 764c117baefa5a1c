"""The fake upstream itself: shapes accepted by the official SDKs, recording, auth, scripts,
and the standalone process."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import aiohttp
import anthropic
import openai
import pytest
from tests.fakes.upstream import FakeUpstream, Reply, ToolCall

KEY = "sk-fake-upstream"
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.e2e
async def test_anthropic_sdk_streams_and_reads_usage(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(
        Reply(text="pong", output_tokens=3, cache_read_tokens=7, cache_write_tokens=2)
    )
    async with anthropic.AsyncAnthropic(
        api_key=KEY, base_url=fake_upstream.url, max_retries=0
    ) as client:
        async with client.messages.stream(
            model="claude-opus-4-8", max_tokens=64, messages=[{"role": "user", "content": "ping"}]
        ) as stream:
            text = "".join([t async for t in stream.text_stream])
            final = await stream.get_final_message()
        assert text == "pong"
        assert final.usage.output_tokens == 3
        assert final.usage.cache_read_input_tokens == 7
        message = await client.messages.create(
            model="claude-opus-4-8", max_tokens=64, messages=[{"role": "user", "content": "ping"}]
        )
        assert message.content[0].type == "text"
        count = await client.messages.count_tokens(
            model="claude-opus-4-8", messages=[{"role": "user", "content": "ping"}]
        )
        assert count.input_tokens > 0
        models = await client.models.list()
        assert "claude-opus-4-8" in [m.id for m in models.data]


@pytest.mark.e2e
async def test_anthropic_sdk_tool_use(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(
        Reply(text="", tool_call=ToolCall(name="Bash", arguments={"command": "ls"}))
    )
    async with (
        anthropic.AsyncAnthropic(api_key=KEY, base_url=fake_upstream.url, max_retries=0) as client,
        client.messages.stream(
            model="claude-opus-4-8", max_tokens=64, messages=[{"role": "user", "content": "ls"}]
        ) as stream,
    ):
        final = await stream.get_final_message()
    block = final.content[0]
    assert block.type == "tool_use"
    assert block.input == {"command": "ls"}
    assert final.stop_reason == "tool_use"


@pytest.mark.e2e
async def test_openai_sdk_chat_stream_with_usage_and_tool_calls(
    fake_upstream: FakeUpstream,
) -> None:
    fake_upstream.script(
        Reply(text="pong", input_tokens=10, cache_read_tokens=5),
        Reply(text="", tool_call=ToolCall()),
    )
    async with openai.AsyncOpenAI(
        api_key=KEY, base_url=f"{fake_upstream.url}/v1", max_retries=0
    ) as client:
        stream = await client.chat.completions.create(
            model="gpt-5",
            messages=[{"role": "user", "content": "ping"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "pong"
        usage = chunks[-1].usage
        assert usage is not None
        assert usage.prompt_tokens == 15
        assert usage.prompt_tokens_details is not None
        assert usage.prompt_tokens_details.cached_tokens == 5
        completion = await client.chat.completions.create(
            model="gpt-5", messages=[{"role": "user", "content": "x"}]
        )
        calls = completion.choices[0].message.tool_calls
        assert calls is not None
        assert calls[0].type == "function"
        assert calls[0].function.name == "Bash"
        models = await client.models.list()
        assert "gpt-5" in [m.id for m in models.data]


@pytest.mark.e2e
async def test_openai_sdk_responses_stream_and_function_call(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Reply(text="pong"), Reply(text="", tool_call=ToolCall(name="shell")))
    async with openai.AsyncOpenAI(
        api_key=KEY, base_url=f"{fake_upstream.url}/v1", max_retries=0
    ) as client:
        stream = await client.responses.create(model="gpt-5-codex", input="ping", stream=True)
        events = [event async for event in stream]
        assert events[-1].type == "response.completed"
        assert events[-1].response.output_text == "pong"
        assert events[-1].response.usage is not None
        response = await client.responses.create(model="gpt-5-codex", input="run")
        assert response.output[0].type == "function_call"


async def test_requests_are_recorded_and_credentials_checked(fake_upstream: FakeUpstream) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{fake_upstream.url}/v1/chat/completions?x=1",
            data=b'{"model":"gpt-5"}',
            headers={"Authorization": "Bearer nope", "X-Trace": "t1"},
        ) as resp:
            assert resp.status == 401
            assert (await resp.json())["error"]["code"] == "invalid_api_key"
        async with session.post(
            f"{fake_upstream.url}/v1/messages",
            data=b'{"model":"m"}',
            headers={"x-api-key": "sk-other"},
        ) as resp:
            assert resp.status == 401
            assert (await resp.json())["error"]["type"] == "authentication_error"
    first = fake_upstream.requests[0]
    assert (first.method, first.path, first.query, first.body) == (
        "POST",
        "/v1/chat/completions",
        "x=1",
        b'{"model":"gpt-5"}',
    )
    assert first.header("x-trace") == "t1"


async def test_models_in_anthropic_shape_when_anthropic_version_is_sent(
    fake_upstream: FakeUpstream,
) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{fake_upstream.url}/v1/models",
            headers={"x-api-key": KEY, "anthropic-version": "2023-06-01"},
        ) as resp,
    ):
        body = await resp.json()
    assert body["data"][0]["type"] == "model"
    assert body["has_more"] is False


async def test_remote_script_endpoint(fake_upstream: FakeUpstream) -> None:
    async with aiohttp.ClientSession() as session:
        script = [
            {"kind": "fail", "type": "overloaded"},
            {"kind": "reply", "text": "hi", "output_tokens": 2},
        ]
        async with session.post(f"{fake_upstream.url}/_fake/script", json=script) as resp:
            assert (await resp.json()) == {"pending": 2}
        headers = {"x-api-key": KEY}
        async with session.post(
            f"{fake_upstream.url}/v1/messages", data=b'{"model":"m"}', headers=headers
        ) as resp:
            assert resp.status == 529
        async with session.post(
            f"{fake_upstream.url}/v1/messages", data=b'{"model":"m"}', headers=headers
        ) as resp:
            assert (await resp.json())["content"][0]["text"] == "hi"
        async with session.get(f"{fake_upstream.url}/_fake/requests") as resp:
            assert len(await resp.json()) == 2


@pytest.mark.e2e
async def test_standalone_process_serves_requests() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.upstream",
        "--port",
        "0",
        "--api-key",
        KEY,
        "--no-record",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode().strip()
        assert line.startswith("FAKE_UPSTREAM_URL=")
        url = line.split("=", 1)[1]
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{url}/v1/responses",
                data=json.dumps({"model": "gpt-5-codex", "stream": True}).encode(),
                headers={"Authorization": f"Bearer {KEY}"},
            ) as resp,
        ):
            text = await resp.text()
        assert "response.completed" in text
    finally:
        proc.terminate()
        await proc.wait()


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/chat/completions", "/v1/responses"])
async def test_invalid_json_is_invalid_request(fake_upstream: FakeUpstream, path: str) -> None:
    headers = {"x-api-key": KEY, "Authorization": f"Bearer {KEY}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{fake_upstream.url}{path}", data=b"{", headers=headers) as resp,
    ):
        assert resp.status == 400
