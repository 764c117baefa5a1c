"""The cloud upstreams (Bedrock, Vertex, Azure OpenAI, Gemini API): each fake accepts what
the provider's official client sends, Spectra's requests pass the same checks (a SigV4
signature botocore verifies, a bearer token the fake issued for a JWT assertion, the api-key
and api-version), and each provider's errors land in the typed taxonomy."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import anthropic
import boto3
import google.oauth2.credentials
import httpx2
import openai
import pytest
from google import genai
from google.genai import types as gtypes
from tests.fakes.clouds import FakeAzure, FakeBedrock, FakeVertex, service_account_info
from tests.fakes.gemini import FakeGemini
from tests.fakes.upstream import Fail, Reply, ToolCall

from spectra.kit import clock as clock_module
from spectra.providers import (
    FailureType,
    Provider,
    UpstreamClient,
    WireProtocol,
    azure,
    bedrock,
    classify_response,
    classify_stream_error,
    gemini,
    make_tap,
    upstream_headers,
    vertex,
)
from spectra.providers.anthropic import AnthropicMessagesTap

REPLY = Reply(
    text="Listing.",
    pieces=3,
    input_tokens=40,
    output_tokens=6,
    cache_read_tokens=8,
    cache_write_tokens=2,
    tool_call=ToolCall(name="Bash", arguments={"command": "ls"}),
)
MESSAGES = {"max_tokens": 100, "messages": [{"role": "user", "content": "list"}]}
KEYS = bedrock.AwsKeys("AKIAFAKEFAKEFAKE0001", "fake/secret/key/of/forty/characters/0001")


@pytest.fixture
async def client() -> AsyncIterator[UpstreamClient]:
    async with UpstreamClient() as upstream:
        yield upstream


async def _send(
    client: UpstreamClient, url: str, headers: list[tuple[str, str]], body: bytes
) -> tuple[int, list[tuple[str, str]], bytes]:
    response = await client.send("POST", url, headers=headers, body=body)
    async with response:
        return response.status, response.header_pairs(), await response.read()


async def _bedrock(
    client: UpstreamClient, fake: FakeBedrock, *, stream: bool, keys: bedrock.AwsKeys = KEYS
) -> tuple[int, list[tuple[str, str]], bytes]:
    model = bedrock.model_id("claude-sonnet-4-5", region="us-east-1")
    url = bedrock.invoke_url(fake.url, model, stream=stream)
    body = bedrock.request_body(MESSAGES | {"model": "claude-sonnet-4-5", "stream": stream})
    headers = bedrock.signed_headers(
        "POST", url, body, keys=keys, region="us-east-1", stream=stream
    )
    return await _send(client, url, headers, body)


async def test_boto3_bedrock_runtime_accepts_the_fake() -> None:
    async with FakeBedrock(default=REPLY) as fake:
        runtime = boto3.client(
            "bedrock-runtime",
            region_name="us-east-1",
            endpoint_url=fake.url,
            aws_access_key_id=KEYS.access_key_id,
            aws_secret_access_key=KEYS.secret_access_key,
        )
        model = "anthropic.claude-sonnet-4-5-20250929-v1:0"
        body = json.dumps(MESSAGES | {"anthropic_version": "bedrock-2023-05-31"})

        def invoke() -> tuple[dict[str, Any], list[dict[str, Any]]]:
            plain = json.loads(runtime.invoke_model(modelId=model, body=body)["body"].read())
            streamed = runtime.invoke_model_with_response_stream(modelId=model, body=body)
            events = [json.loads(e["chunk"]["bytes"]) for e in streamed["body"]]
            return plain, events

        plain, events = await asyncio.to_thread(invoke)
    assert plain["usage"]["input_tokens"] == 40
    assert events[0]["type"] == "message_start"
    assert events[-1]["type"] == "message_stop"
    assert fake.signatures_checked == 2
    assert fake.requests[0][0] == "/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke"


async def test_spectra_signs_bedrock_requests_botocore_verifies(client: UpstreamClient) -> None:
    async with FakeBedrock(default=REPLY) as fake:
        status, _, body = await _bedrock(client, fake, stream=False)
        assert status == 200
        assert json.loads(body)["content"][1]["input"] == {"command": "ls"}
        status, headers, raw = await _bedrock(client, fake, stream=True)
    assert status == 200
    assert ("content-type", "application/vnd.amazon.eventstream") in [
        (k.lower(), v) for k, v in headers
    ]
    sent = json.loads(fake.requests[-1][2])
    assert sent["anthropic_version"] == "bedrock-2023-05-31"
    assert "model" not in sent
    assert "stream" not in sent
    # the event stream, split at awkward places, becomes the Anthropic stream the tap reads
    decoder = bedrock.EventStreamToSSE()
    sse = b"".join(decoder.feed(raw[i : i + 37]) for i in range(0, len(raw), 37))
    tap = AnthropicMessagesTap()
    tap.feed(sse)
    tap.close()
    assert tap.finished
    assert tap.usage is not None
    assert (tap.usage.input_tokens, tap.usage.output_tokens) == (40, 6)
    assert (tap.usage.cache_read_tokens, tap.usage.cache_write_tokens) == (8, 2)


async def test_bedrock_errors_are_typed(client: UpstreamClient) -> None:
    wrong = bedrock.AwsKeys(KEYS.access_key_id, "not/the/secret/key/of/forty/characters/01")
    expected = {
        "rate_limited": FailureType.RATE_LIMITED,
        "overloaded": FailureType.OVERLOADED,
        "context_too_long": FailureType.CONTEXT_TOO_LONG,
        "invalid_request": FailureType.INVALID_REQUEST,
        "permission_denied": FailureType.AUTH_FAILED,
    }
    async with FakeBedrock(default=REPLY) as fake:
        status, headers, body = await _bedrock(client, fake, stream=False, keys=wrong)
        failure = classify_response("bedrock", status, headers, body)
        assert failure is not None
        assert failure.type is FailureType.AUTH_FAILED
        for kind, failure_type in expected.items():
            fake.script.append(Fail(kind))
            status, headers, body = await _bedrock(client, fake, stream=False)
            failure = classify_response("bedrock", status, headers, body)
            assert failure is not None
            assert failure.type is failure_type, kind


def test_bedrock_stream_exception_becomes_a_typed_error_event() -> None:
    from tests.fakes.clouds import bedrock_chunk, bedrock_exception

    start = {"type": "message_start", "message": {"usage": {"input_tokens": 5}}}
    raw = bedrock_chunk(start) + bedrock_exception("throttlingException", "slow down")
    sse = bedrock.EventStreamToSSE().feed(raw)
    tap = AnthropicMessagesTap()
    tap.feed(sse)
    assert tap.error is not None
    assert classify_stream_error("bedrock", tap.error).type is FailureType.RATE_LIMITED


def test_bedrock_model_ids_follow_the_region() -> None:
    assert bedrock.model_id("claude-sonnet-4-5", region="eu-west-1", cross_region=True) == (
        "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
    )
    assert bedrock.model_id("claude-haiku-4-5", region="us-west-2") == (
        "anthropic.claude-haiku-4-5-20251001-v1:0"
    )
    assert (
        bedrock.endpoint("ap-northeast-1") == "https://bedrock-runtime.ap-northeast-1.amazonaws.com"
    )


@pytest.fixture
def real_clock() -> Iterator[None]:
    clock_module.freeze(datetime.now(UTC))
    yield
    clock_module.unfreeze()


async def test_vertex_token_exchange_cache_and_refresh(
    client: UpstreamClient, real_clock: None
) -> None:
    async with FakeVertex(public_pem=b"", default=REPLY) as fake:
        info, public = service_account_info(f"{fake.url}/token")
        fake.public_pem = public
        tokens = vertex.AccessTokens(info)
        first = await tokens.token()
        assert await tokens.token() == first  # cached
        assert fake.token_requests == 1
        clock_module.advance(timedelta(minutes=56))  # within the refresh margin
        second = await tokens.token()
        assert second != first
        assert fake.token_requests == 2
        url = vertex.predict_url(
            fake.url,
            project="acme-ai",
            region="us-east5",
            model="claude-sonnet-4-5@20250929",
            stream=True,
        )
        body = vertex.request_body(MESSAGES | {"model": "claude-sonnet-4-5", "stream": True})
        headers = [("Authorization", f"Bearer {second}"), ("content-type", "application/json")]
        status, _, raw = await _send(client, url, headers, body)
        assert status == 200
        tap = make_tap(WireProtocol.ANTHROPIC_MESSAGES)
        tap.feed(raw)
        assert tap.usage is not None
        assert tap.usage.cache_write_tokens == 2
        status, headers_back, error = await _send(
            client, url, [("Authorization", "Bearer ya29.forged")], body
        )
        failure = classify_response("vertex", status, headers_back, error)
        assert failure is not None
        assert failure.type is FailureType.AUTH_FAILED
        fake.script.append(Fail("rate_limited"))
        status, headers_back, error = await _send(client, url, headers, body)
        failure = classify_response("vertex", status, headers_back, error)
        assert failure is not None
        assert failure.type is FailureType.RATE_LIMITED


async def test_anthropic_vertex_client_accepts_the_fake(real_clock: None) -> None:
    async with FakeVertex(public_pem=b"", default=REPLY) as fake:
        info, fake.public_pem = service_account_info(f"{fake.url}/token")
        token = await vertex.AccessTokens(info).token()
        sdk = anthropic.AsyncAnthropicVertex(
            region="us-east5",
            project_id="acme-ai",
            access_token=token,
            base_url=f"{fake.url}/v1",
            http_client=httpx2.AsyncClient(),
        )
        message = await sdk.messages.create(
            model="claude-sonnet-4-5@20250929",
            max_tokens=100,
            messages=[{"role": "user", "content": "list"}],
        )
    assert message.usage.input_tokens == 40
    path = fake.requests[-1][0]
    assert path.endswith("/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict")


async def test_azure_openai_client_and_spectra_requests(client: UpstreamClient) -> None:
    async with FakeAzure(default=REPLY) as fake:
        sdk = openai.AsyncAzureOpenAI(
            api_key=fake.api_key,
            api_version="2025-04-01-preview",
            azure_endpoint=fake.url,
            http_client=httpx2.AsyncClient(),
        )
        chat = await sdk.chat.completions.create(
            model="gpt5-prod", messages=[{"role": "user", "content": "list"}]
        )
        assert chat.usage is not None
        assert chat.usage.prompt_tokens == 48
        response = await sdk.responses.create(model="gpt5-prod", input="list")
        assert response.usage is not None
        sdk_paths = [p for p, _, _ in fake.requests]
        for protocol in (WireProtocol.OPENAI_CHAT, WireProtocol.OPENAI_RESPONSES):
            url = azure.request_url(
                fake.url,
                protocol=protocol,
                deployment="gpt5-prod",
                api_version="2025-04-01-preview",
            )
            headers = azure.upstream_headers(
                [("content-type", "application/json")], api_key=fake.api_key
            )
            body = {"model": "gpt5-prod", "messages": [{"role": "user", "content": "x"}]}
            status, _, _ = await _send(client, url, headers, json.dumps(body).encode())
            assert status == 200
        assert [p for p, _, _ in fake.requests[2:]] == sdk_paths
        fake.script.append(Fail("content_filter"))
        status, back, error = await _send(client, url, headers, json.dumps(body).encode())
        failure = classify_response("azure_openai", status, back, error)
        assert failure is not None
        assert failure.type is FailureType.INVALID_REQUEST  # the prompt's fault, not the account's
        fake.script.append(Fail("rate_limited"))
        status, back, error = await _send(client, url, headers, json.dumps(body).encode())
        failure = classify_response("azure_openai", status, back, error)
        assert failure is not None
        assert (failure.type, failure.retry_after) == (FailureType.RATE_LIMITED, 7.0)
        bad = azure.upstream_headers([], api_key="wrong")
        status, back, error = await _send(client, url, bad, json.dumps(body).encode())
        failure = classify_response("azure_openai", status, back, error)
        assert failure is not None
        assert failure.type is FailureType.AUTH_FAILED


async def test_gemini_upstream_requests_and_errors(client: UpstreamClient) -> None:
    async with FakeGemini(default=REPLY) as fake:
        url = fake.url + gemini.generate_path("gemini-2.5-pro", stream=True)
        headers = gemini.upstream_headers(
            [("content-type", "application/json")], api_key=fake.api_key
        )
        body = json.dumps({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}).encode()
        status, _, raw = await _send(client, url, headers, body)
        assert status == 200
        tap = make_tap(WireProtocol.GEMINI)
        tap.feed(raw)
        assert tap.finished
        assert tap.usage is not None
        assert (tap.usage.input_tokens, tap.usage.cache_read_tokens) == (40, 8)
        bad = gemini.upstream_headers([], api_key="AIza-wrong")
        status, back, error = await _send(client, url, bad, body)
        failure = classify_response("gemini", status, back, error)
        assert failure is not None
        assert (status, failure.type) == (400, FailureType.AUTH_FAILED)
        for kind, failure_type in (
            ("rate_limited", FailureType.RATE_LIMITED),
            ("overloaded", FailureType.OVERLOADED),
            ("context_too_long", FailureType.CONTEXT_TOO_LONG),
        ):
            fake.script.append(Fail(kind))
            status, back, error = await _send(client, url, headers, body)
            failure = classify_response("gemini", status, back, error)
            assert failure is not None
            assert failure.type is failure_type, kind


async def test_genai_vertex_client_and_spectra_requests_reach_gemini_on_vertex(
    client: UpstreamClient, real_clock: None
) -> None:
    """google-genai's Vertex client (`vertexai=True`) gets Gemini answers, streamed and not,
    and a token count from the fake; Spectra's request (same path, its own bearer token, no
    key header) passes the same checks."""
    async with FakeVertex(public_pem=b"", default=REPLY) as fake:
        info, fake.public_pem = service_account_info(f"{fake.url}/token")
        token = await vertex.AccessTokens(info).token()
        options = gtypes.HttpOptions(
            base_url=fake.url, api_version="v1", httpx_async_client=httpx2.AsyncClient()
        )
        sdk = genai.Client(
            vertexai=True,
            project="acme-ai",
            location="us-central1",
            credentials=google.oauth2.credentials.Credentials(token),  # type: ignore[no-untyped-call]
            http_options=options,
        )
        plain = await sdk.aio.models.generate_content(model="gemini-2.5-pro", contents="list")
        assert plain.text == "Listing."
        assert [(f.name, f.args) for f in plain.function_calls or []] == [
            ("Bash", {"command": "ls"})
        ]
        assert plain.usage_metadata is not None
        assert plain.usage_metadata.cached_content_token_count == 8
        stream = await sdk.aio.models.generate_content_stream(
            model="gemini-2.5-pro", contents="list"
        )
        chunks = [c async for c in stream]
        assert "".join(c.text or "" for c in chunks if c.candidates) == "Listing."
        counted = await sdk.aio.models.count_tokens(model="gemini-2.5-pro", contents="list")
        assert counted.total_tokens
        prefix = (
            "/v1/projects/acme-ai/locations/us-central1/publishers/google/models/gemini-2.5-pro"
        )
        assert [path for path, _, _ in fake.requests] == [
            f"{prefix}:generateContent",
            f"{prefix}:streamGenerateContent?alt=sse",
            f"{prefix}:countTokens",
        ]
        url = vertex.generate_url(
            fake.url, project="acme-ai", region="us-central1", model="gemini-2.5-pro", stream=True
        )
        assert url == fake.url + fake.requests[1][0]
        body = json.dumps({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}).encode()
        caller = [("content-type", "application/json"), ("x-goog-api-key", "member-key")]
        headers = [
            *upstream_headers(Provider.VERTEX, caller, api_key="", protocol=WireProtocol.GEMINI),
            ("Authorization", f"Bearer {token}"),
        ]
        assert "x-goog-api-key" not in {k.lower() for k, _ in headers}
        status, _, raw = await _send(client, url, headers, body)
        assert status == 200
        tap = make_tap(WireProtocol.GEMINI)
        tap.feed(raw)
        assert tap.finished
        assert tap.usage is not None
        assert (tap.usage.input_tokens, tap.usage.cache_read_tokens) == (40, 8)
        status, back, error = await _send(
            client, url, [("Authorization", "Bearer ya29.forged")], body
        )
        failure = classify_response("vertex", status, back, error)
        assert failure is not None
        assert failure.type is FailureType.AUTH_FAILED
        fake.script.append(Fail("rate_limited"))
        status, back, error = await _send(client, url, headers, body)
        failure = classify_response("vertex", status, back, error)
        assert failure is not None
        assert (status, failure.type) == (429, FailureType.RATE_LIMITED)


def test_the_event_stream_decoder_agrees_with_botocores_and_checks_checksums() -> None:
    """Spectra's decoder against botocore's `EventStreamBuffer` on the same bytes (headers of
    every type, split anywhere), and a flipped bit refused by either checksum."""
    import struct
    import uuid

    from botocore.eventstream import EventStreamBuffer
    from tests.fakes.clouds import bedrock_chunk, bedrock_exception

    def typed_header_message() -> bytes:  # every header type, as the spec lists them
        headers = b""
        for name, kind, value in (
            ("t", 0, b""),
            ("f", 1, b""),
            ("b", 2, b"\x07"),
            ("s", 3, struct.pack("!h", 300)),
            ("i", 4, struct.pack("!i", 70000)),
            ("l", 5, struct.pack("!q", 2**40)),
            ("x", 6, struct.pack("!H", 3) + b"\x00\x01\x02"),
            ("ts", 8, struct.pack("!q", 1_700_000_000_000)),
            ("u", 9, uuid.uuid4().bytes),
            (":message-type", 7, struct.pack("!H", 5) + b"event"),
            (":event-type", 7, struct.pack("!H", 5) + b"chunk"),
        ):
            headers += bytes([len(name)]) + name.encode() + bytes([kind]) + value
        event = {"type": "ping"}
        payload = json.dumps({"bytes": base64.b64encode(json.dumps(event).encode()).decode()})
        total = 12 + len(headers) + len(payload) + 4
        prelude = struct.pack("!II", total, len(headers))
        prelude += struct.pack("!I", binascii.crc32(prelude))
        message = prelude + headers + payload.encode()
        return message + struct.pack("!I", binascii.crc32(message))

    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"usage": {"input_tokens": 5}}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "é"}},
    ]
    raw = b"".join(bedrock_chunk(e) for e in events) + typed_header_message()
    raw += bedrock_exception("throttlingException", "slow down")
    reference = EventStreamBuffer()
    reference.add_data(raw)
    expected = [(m.headers.get(":message-type"), json.loads(m.payload or b"{}")) for m in reference]
    assert len(expected) == 4
    for step in (1, 7, 64, len(raw)):
        decoder = bedrock.EventStreamToSSE()
        sse = b"".join(decoder.feed(raw[i : i + step]) for i in range(0, len(raw), step))
        blocks = [b for b in sse.decode().split("\n\n") if b]
        assert [b.split("\n")[0] for b in blocks] == [
            "event: message_start",
            "event: content_block_delta",
            "event: ping",
            "event: error",
        ]
        datas = [json.loads(b.split("\n")[1].removeprefix("data: ")) for b in blocks]
        assert datas[:3] == [json.loads(base64.b64decode(p["bytes"])) for kind, p in expected[:3]]
        assert datas[3]["error"]["message"] == expected[3][1]["message"]
    for flip in (5, 20, len(raw) // 2):  # in a prelude, in headers, in a payload
        broken = bytearray(raw)
        broken[flip] ^= 0x01
        with pytest.raises(bedrock.EventStreamError):
            bedrock.EventStreamToSSE().feed(bytes(broken))
