"""Request-body helpers: inspect (read and check) and rewrite."""

from __future__ import annotations

import json
from typing import Any

import pytest

from spectra.providers import (
    WireProtocol,
    inspect_request,
    rewrite_request,
)
from spectra.providers.bodies import RequestBodyInvalidError, estimate_input_tokens


@pytest.mark.parametrize(
    ("protocol", "body", "max_tokens"),
    [
        (
            WireProtocol.ANTHROPIC_MESSAGES,
            {"model": "m", "max_tokens": 64000, "stream": True},
            64000,
        ),
        (WireProtocol.OPENAI_CHAT, {"model": "m", "max_completion_tokens": 5, "max_tokens": 9}, 5),
        (WireProtocol.OPENAI_CHAT, {"model": "m", "max_tokens": 9}, 9),
        (WireProtocol.OPENAI_RESPONSES, {"model": "m", "max_output_tokens": 7}, 7),
        (WireProtocol.OPENAI_RESPONSES, {"model": "m"}, None),
    ],
)
def test_inspect_request(
    protocol: WireProtocol, body: dict[str, Any], max_tokens: int | None
) -> None:
    raw = json.dumps(body).encode()
    info = inspect_request(protocol, raw)
    assert info.model == "m"
    assert info.max_tokens == max_tokens
    assert info.stream is (body.get("stream") is True)
    assert info.input_tokens_estimate == estimate_input_tokens(raw) == -(-len(raw) // 4)


def test_inspect_request_include_usage_and_invalid_bodies() -> None:
    raw = b'{"model":"m","stream":true,"stream_options":{"include_usage":true}}'
    assert inspect_request(WireProtocol.OPENAI_CHAT, raw).include_usage
    for bad in (b"not json", b"[1, 2]", b"\xff\xfe"):
        with pytest.raises(RequestBodyInvalidError):
            inspect_request(WireProtocol.OPENAI_CHAT, bad)


def test_rewrite_is_identity_when_nothing_changes() -> None:
    raw = b'{ "model" : "m",\n "stream": true, "stream_options": {"include_usage": true}}'
    assert rewrite_request(raw) is raw
    assert rewrite_request(raw, model="m") is raw
    assert rewrite_request(raw, model="m", include_usage=True) is raw


def test_rewrite_model_changes_only_that_value() -> None:
    raw = '{"messages": [{"role": "user", "content": "é \\u00e9 \\"model\\": \\"x\\""}], "model" : "alias",  "z": 1}'.encode()
    out = rewrite_request(raw, model="claude-sonnet-4-5")
    assert out == raw.replace(b'"alias"', b'"claude-sonnet-4-5"')
    assert json.loads(out)["model"] == "claude-sonnet-4-5"


def test_rewrite_adds_include_usage_minimally() -> None:
    raw = b'{"model": "m", "stream": true, "messages": []}'
    out = rewrite_request(raw, include_usage=True)
    assert (
        out
        == b'{"stream_options":{"include_usage":true},"model": "m", "stream": true, "messages": []}'
    )
    merged = rewrite_request(b'{"model":"m","stream_options": {"foo": 1}}', include_usage=True)
    assert merged == b'{"model":"m","stream_options": {"foo":1,"include_usage":true}}'
    false = rewrite_request(
        b'{"stream_options":{"include_usage":false},"model":"m"}', include_usage=True
    )
    assert json.loads(false) == {"stream_options": {"include_usage": True}, "model": "m"}
    null = rewrite_request(b'{"stream_options":null}', include_usage=True)
    assert json.loads(null) == {"stream_options": {"include_usage": True}}


def test_rewrite_both_on_a_body_without_either() -> None:
    out = rewrite_request(b'{"messages": []}', model="gpt-5", include_usage=True)
    assert json.loads(out) == {
        "model": "gpt-5",
        "stream_options": {"include_usage": True},
        "messages": [],
    }
    empty = rewrite_request(b"{}", model="gpt-5", include_usage=True)
    assert json.loads(empty) == {"model": "gpt-5", "stream_options": {"include_usage": True}}
