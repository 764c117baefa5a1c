"""Non-streamed answers and error bodies translated back to the caller's protocol, checked
by parsing them with the client SDK's own models."""

from __future__ import annotations

import json

import pytest
from anthropic.types import Message
from openai.types.chat import ChatCompletion
from openai.types.responses import Response
from tests.fakes.upstream import Reply, ToolCall, anthropic_body, chat_body, responses_body

from spectra.providers.translate import (
    response_usage,
    translate_error,
    translate_request,
    translate_response,
)
from spectra.providers.types import Usage, WireProtocol

from .support import ANTHROPIC, CHAT, RESPONSES, JsonDict

REPLY = Reply(
    text="pong",
    input_tokens=900,
    output_tokens=12,
    cache_read_tokens=100,
    tool_call=ToolCall(name="Bash", arguments={"command": "ls"}, call_id="call_one"),
)
PAIRS = [
    (u, c) for u in (ANTHROPIC, CHAT, RESPONSES) for c in (ANTHROPIC, CHAT, RESPONSES) if u is not c
]
REQUESTS: dict[WireProtocol, JsonDict] = {
    ANTHROPIC: {"model": "m", "max_tokens": 9, "messages": [{"role": "user", "content": "x"}]},
    CHAT: {"model": "m", "messages": [{"role": "user", "content": "x"}]},
    RESPONSES: {"model": "m", "input": "x"},
}


def _upstream_body(protocol: WireProtocol) -> JsonDict:
    make = {ANTHROPIC: anthropic_body, CHAT: chat_body, RESPONSES: responses_body}[protocol]
    return json.loads(make(REPLY, "served-model"))  # type: ignore[no-any-return]


@pytest.mark.parametrize(("upstream", "client"), PAIRS, ids=lambda p: p.value)
def test_answer_parses_in_the_client_sdk_with_text_call_stop_and_usage(
    upstream: WireProtocol, client: WireProtocol
) -> None:
    ctx = translate_request(REQUESTS[client], client=client, upstream=upstream).context
    body = _upstream_body(upstream)
    out = translate_response(body, ctx)
    expected_usage = response_usage(body, upstream)
    assert response_usage(out, client) == expected_usage
    if client is ANTHROPIC:
        msg = Message.model_validate(out)
        assert [b.type for b in msg.content] == ["text", "tool_use"]
        assert msg.content[1].input == {"command": "ls"}  # type: ignore[union-attr]
        assert msg.stop_reason == "tool_use"
        assert msg.model == "served-model"
    elif client is CHAT:
        done = ChatCompletion.model_validate(out)
        message = done.choices[0].message
        assert message.content == "pong"
        (call,) = message.tool_calls or []
        assert call.type == "function"
        assert json.loads(call.function.arguments) == {"command": "ls"}
        assert done.choices[0].finish_reason == "tool_calls"
    else:
        resp = Response.model_validate(out)
        assert resp.output_text == "pong"
        assert [o.type for o in resp.output] == ["message", "function_call"]
        assert resp.status == "completed"


def test_cache_writes_are_reported_in_each_shape() -> None:
    usage = Usage(input_tokens=10, output_tokens=2, cache_read_tokens=30, cache_write_tokens=40)
    body = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": [{"type": "text", "text": "hi"}],
        "stop_reason": "max_tokens",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 10,
            "output_tokens": 2,
            "cache_read_input_tokens": 30,
            "cache_creation_input_tokens": 40,
        },
    }
    chat = translate_response(
        body, translate_request(REQUESTS[CHAT], client=CHAT, upstream=ANTHROPIC).context
    )
    assert chat["usage"]["prompt_tokens"] == 80
    assert chat["usage"]["prompt_tokens_details"] == {"cached_tokens": 30, "cache_write_tokens": 40}
    assert chat["choices"][0]["finish_reason"] == "length"
    assert response_usage(chat, CHAT) == usage
    responses = translate_response(
        body, translate_request(REQUESTS[RESPONSES], client=RESPONSES, upstream=ANTHROPIC).context
    )
    assert Response.model_validate(responses).incomplete_details.reason == "max_output_tokens"  # type: ignore[union-attr]
    assert response_usage(responses, RESPONSES) == usage


ERRORS = [
    # (upstream, status, body, client, expected status, expected type)
    (
        ANTHROPIC,
        529,
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        CHAT,
        503,
        "server_error",
    ),
    (
        ANTHROPIC,
        429,
        {"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}},
        RESPONSES,
        429,
        "rate_limit_error",
    ),
    (
        ANTHROPIC,
        400,
        {"type": "error", "error": {"type": "invalid_request_error", "message": "bad"}},
        CHAT,
        400,
        "invalid_request_error",
    ),
    (
        CHAT,
        429,
        {
            "error": {
                "message": "slow",
                "type": "rate_limit_error",
                "param": None,
                "code": "rate_limit_exceeded",
            }
        },
        ANTHROPIC,
        429,
        "rate_limit_error",
    ),
    (
        CHAT,
        400,
        {
            "error": {
                "message": "too long",
                "type": "invalid_request_error",
                "param": "messages",
                "code": "context_length_exceeded",
            }
        },
        ANTHROPIC,
        400,
        "invalid_request_error",
    ),
    (
        RESPONSES,
        401,
        {
            "error": {
                "message": "key",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_api_key",
            }
        },
        ANTHROPIC,
        401,
        "authentication_error",
    ),
    (RESPONSES, 500, b"<html>upstream broke</html>", ANTHROPIC, 500, "api_error"),
    (
        CHAT,
        503,
        {"error": {"message": "busy", "type": "server_error", "param": None, "code": None}},
        ANTHROPIC,
        503,
        "overloaded_error",
    ),
]


@pytest.mark.parametrize(
    ("upstream", "status", "body", "client", "want_status", "want_type"), ERRORS
)
def test_errors_keep_their_meaning_in_the_callers_shape(
    upstream: WireProtocol,
    status: int,
    body: JsonDict | bytes,
    client: WireProtocol,
    want_status: int,
    want_type: str,
) -> None:
    ctx = translate_request(REQUESTS[client], client=client, upstream=upstream).context
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    got_status, got = translate_error(status, raw, ctx)
    assert got_status == want_status
    if client is ANTHROPIC:
        assert got["type"] == "error"
        assert got["error"]["type"] == want_type
        assert got["error"]["message"]
    else:
        assert got["error"]["type"] == want_type
        assert set(got["error"]) == {"message", "type", "param", "code"}


@pytest.mark.parametrize("client", [CHAT, RESPONSES], ids=lambda p: p.value)
def test_answers_from_anthropic_carry_the_callers_time_stamp(client: WireProtocol) -> None:
    ctx = translate_request(
        REQUESTS[client], client=client, upstream=ANTHROPIC, created=1_800_000_000
    ).context
    out = translate_response(_upstream_body(ANTHROPIC), ctx)
    assert out["created" if client is CHAT else "created_at"] == 1_800_000_000


def test_a_context_overflow_reads_as_one_in_each_protocol() -> None:
    openai_body = {
        "error": {
            "message": "This model's maximum context length is 128000 tokens.",
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        }
    }
    ctx = translate_request(REQUESTS[ANTHROPIC], client=ANTHROPIC, upstream=CHAT).context
    status, body = translate_error(400, openai_body, ctx)
    assert status == 400
    assert body["error"]["message"].startswith("prompt is too long: This model's maximum")
    anthropic_body = {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "prompt is too long: 210000 tokens > 200000 maximum",
        },
    }
    ctx = translate_request(REQUESTS[CHAT], client=CHAT, upstream=ANTHROPIC).context
    status, body = translate_error(400, anthropic_body, ctx)
    assert (status, body["error"]["code"]) == (400, "context_length_exceeded")
