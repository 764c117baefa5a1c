"""Header forwarding with headers recorded from real clients, and request-body helpers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from spectra.providers import (
    Provider,
    WireProtocol,
    inspect_request,
    rewrite_request,
    upstream_headers,
)
from spectra.providers.bodies import RequestBodyInvalidError, estimate_input_tokens
from spectra.providers.headers import forward_request_headers, forward_response_headers

# A copy of ../shared/fixtures/client-recordings lives in the repository, so CI always has it.
_RECORDINGS = Path(__file__).resolve().parents[1] / "fixtures" / "client-recordings"


def _recorded(name: str) -> list[dict[str, Any]]:
    path = _RECORDINGS / name
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _post(name: str, path: str) -> list[tuple[str, str]]:
    record = next(r for r in _recorded(name) if r["method"] == "POST" and r["path"] == path)
    return list(record["headers"].items())


def _names(headers: list[tuple[str, str]]) -> list[str]:
    return [name.lower() for name, _ in headers]


def test_claude_code_headers_pass_unchanged_but_credentials_and_hop_by_hop() -> None:
    caller = _post("claude-code-quiet.jsonl", "/v1/messages")
    sent = upstream_headers(Provider.ANTHROPIC, caller, api_key="sk-ant-account")
    names = _names(sent)
    for dropped in ("connection", "host", "content-length"):
        assert dropped not in names
    assert names.count("x-api-key") == 1
    assert ("x-api-key", "sk-ant-account") in sent
    kept = [
        (k, v)
        for k, v in caller
        if k.lower() not in {"connection", "host", "content-length", "x-api-key"}
    ]
    assert sent[: len(kept)] == kept  # every other header, in order, unchanged
    assert dict(sent)["anthropic-beta"] == dict(caller)["anthropic-beta"]
    assert dict(sent)["anthropic-version"] == "2023-06-01"
    assert "authorization" not in names


def test_claude_code_bearer_token_is_replaced_by_the_account_key() -> None:
    caller = _post("claude-code-authtoken.jsonl", "/v1/messages")
    assert "authorization" in _names(caller)
    sent = upstream_headers(Provider.ANTHROPIC, caller, api_key="sk-ant-account")
    assert "authorization" not in _names(sent)
    assert dict(sent)["x-api-key"] == "sk-ant-account"


def test_sdk_anthropic_version_is_kept_and_default_added_only_when_missing() -> None:
    records = [r for r in _recorded("python-sdks.jsonl") if r["path"] == "/v1/messages"]
    sent = upstream_headers(Provider.ANTHROPIC, list(records[0]["headers"].items()), api_key="k")
    assert [v for k, v in sent if k == "anthropic-version"] == ["2026-10-21"]
    bare = upstream_headers(Provider.ANTHROPIC, [("content-type", "application/json")], api_key="k")
    assert ("anthropic-version", "2023-06-01") in bare


def test_codex_headers_to_openai_with_decompressed_body() -> None:
    caller = [*_post("codex-exec.jsonl", "/v1/responses"), ("content-encoding", "zstd")]
    sent = upstream_headers(Provider.OPENAI, caller, api_key="sk-account", body_decompressed=True)
    names = _names(sent)
    assert "content-encoding" not in names
    assert [v for k, v in sent if k.lower() == "authorization"] == ["Bearer sk-account"]
    for kept in (
        "session-id",
        "thread-id",
        "x-client-request-id",
        "originator",
        "accept-encoding",
        "user-agent",
    ):
        assert kept in names
    kept_compressed = upstream_headers(Provider.OPENAI, caller, api_key="k")
    assert ("content-encoding", "zstd") in kept_compressed


def test_connection_named_and_proxy_headers_are_dropped() -> None:
    caller = [
        ("Connection", "keep-alive, X-Hop"),
        ("X-Hop", "1"),
        ("Proxy-Authorization", "Basic x"),
        ("TE", "trailers"),
        ("Transfer-Encoding", "chunked"),
        ("Upgrade", "websocket"),
        ("Keep-Alive", "timeout=5"),
        ("X-Keep", "yes"),
    ]
    assert forward_request_headers(caller) == [("X-Keep", "yes")]


def test_response_headers_keep_encoding_and_drop_length_only_when_body_changes() -> None:
    upstream = [
        ("Content-Type", "text/event-stream"),
        ("Content-Encoding", "gzip"),
        ("Content-Length", "10"),
        ("Transfer-Encoding", "chunked"),
        ("request-id", "req_1"),
    ]
    assert forward_response_headers(upstream) == [
        ("Content-Type", "text/event-stream"),
        ("Content-Encoding", "gzip"),
        ("Content-Length", "10"),
        ("request-id", "req_1"),
    ]
    assert "Content-Length" not in dict(forward_response_headers(upstream, body_changed=True))


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
