"""Header and query forwarding by allowlist, checked against every request recorded from the
real clients (Claude Code, Codex CLI, the official SDKs) and against hostile extras."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from spectra.providers import Provider, upstream_headers
from spectra.providers.headers import (
    anthropic_betas,
    forward_query,
    forward_response_headers,
)

# A copy of ../shared/fixtures/client-recordings lives in the repository, so CI always has it.
_RECORDINGS = Path(__file__).resolve().parents[1] / "fixtures" / "client-recordings"
_PROVIDER_BY_PATH = {
    "/v1/messages": Provider.ANTHROPIC,
    "/v1/messages/count_tokens": Provider.ANTHROPIC,
    "/v1/chat/completions": Provider.OPENAI,
    "/v1/responses": Provider.OPENAI,
}
# Not the client's to send on: the gateway's own credentials replace these, and the transport
# recomputes the rest.
_NOT_FORWARDED = {"authorization", "x-api-key", "connection", "host", "content-length"}


def _forwarded_requests() -> list[Any]:
    out = []
    for path in sorted(_RECORDINGS.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if record["method"] == "POST" and record["path"] in _PROVIDER_BY_PATH:
                out.append(pytest.param(record, id=f"{path.stem}-{record['n']}"))
    return out


def _names(headers: list[tuple[str, str]]) -> list[str]:
    return [name.lower() for name, _ in headers]


@pytest.mark.parametrize("record", _forwarded_requests())
def test_every_recorded_client_header_passes_the_allowlist(record: dict[str, Any]) -> None:
    caller = list(record["headers"].items())
    provider = _PROVIDER_BY_PATH[record["path"]]
    sent = upstream_headers(provider, caller, api_key="sk-account", long_context=True)
    expected = [(k, v) for k, v in caller if k.lower() not in _NOT_FORWARDED]
    for name, value in expected:
        got = [v for k, v in sent if k == name]
        if name.lower() == "accept-encoding":
            # Only codings the usage tap can read: `br` would leave a response unmetered.
            assert got == [", ".join(c.strip() for c in value.split(",") if c.strip() != "br")]
        else:
            assert got == [value], name
    assert [k for k, _ in sent if k.lower() not in ("x-api-key", "authorization")] == [
        k for k, _ in expected
    ]
    if provider is Provider.ANTHROPIC:
        assert [v for k, v in sent if k.lower() == "x-api-key"] == ["sk-account"]
        assert "authorization" not in _names(sent)
    else:
        assert [v for k, v in sent if k.lower() == "authorization"] == ["Bearer sk-account"]
    assert (
        forward_query(record["query"], anthropic=provider is Provider.ANTHROPIC)
        == (record["query"])
    )


HOSTILE = [
    ("Cookie", "spectra_session=abc"),
    ("OpenAI-Organization", "org-someone-else"),
    ("OpenAI-Project", "proj_x"),
    ("anthropic-organization-id", "org"),
    ("X-Forwarded-For", "10.0.0.1"),
    ("X-Forwarded-Host", "evil"),
    ("Forwarded", "for=10.0.0.1"),
    ("X-Real-IP", "10.0.0.1"),
    ("Idempotency-Key", "k-1"),
    ("X-Request-Id", "trace-1"),
    ("Proxy-Authorization", "Basic x"),
    ("Connection", "keep-alive, X-Hop"),
    ("X-Hop", "1"),
    ("TE", "trailers"),
    ("Transfer-Encoding", "chunked"),
    ("Upgrade", "websocket"),
    ("Origin", "https://evil.example"),
    ("Referer", "https://evil.example"),
    ("X-Anything", "1"),
]


@pytest.mark.parametrize(
    "provider", [Provider.ANTHROPIC, Provider.OPENAI, Provider.OPENAI_COMPATIBLE]
)
def test_headers_outside_the_allowlist_never_reach_the_upstream(provider: Provider) -> None:
    caller = [*HOSTILE, ("user-agent", "ua/1"), ("x-stainless-os", "Linux")]
    sent = upstream_headers(provider, caller, api_key="sk-account")
    names = set(_names(sent))
    assert names & {k.lower() for k, _ in HOSTILE} == set()
    assert {"user-agent", "x-stainless-os"} <= names


def test_content_encoding_is_dropped_when_the_body_was_decompressed() -> None:
    caller = [("content-type", "application/json"), ("content-encoding", "zstd")]
    sent = upstream_headers(Provider.OPENAI, caller, api_key="k", body_decompressed=True)
    assert "content-encoding" not in _names(sent)


def test_accept_encoding_keeps_only_what_the_tap_can_read() -> None:
    sent = upstream_headers(Provider.OPENAI, [("accept-encoding", "br")], api_key="k")
    assert "accept-encoding" not in _names(sent)
    mixed = upstream_headers(
        Provider.OPENAI, [("Accept-Encoding", "br;q=1, gzip;q=0.5")], api_key="k"
    )
    assert ("Accept-Encoding", "gzip;q=0.5") in mixed


def test_anthropic_betas_keep_priced_features_only() -> None:
    value = (
        "claude-code-20250219, context-1m-2025-08-07,fast-mode-2026-02-01,"
        "extended-cache-ttl-2025-04-11,files-api-2025-04-14,interleaved-thinking-2025-05-14"
    )
    assert anthropic_betas(value, long_context=True) == (
        "claude-code-20250219,context-1m-2025-08-07,extended-cache-ttl-2025-04-11,"
        "interleaved-thinking-2025-05-14"
    )
    assert anthropic_betas(value, long_context=False) == (
        "claude-code-20250219,extended-cache-ttl-2025-04-11,interleaved-thinking-2025-05-14"
    )
    assert anthropic_betas("fast-mode-2026-02-01", long_context=True) is None
    # Claude Code 2.1.33x sends `defer_loading` tools: tool search is token-priced and passes,
    # the code-execution beta that programmatic tool calling needs does not.
    assert anthropic_betas(
        "advanced-tool-use-2025-11-20,code-execution-2025-08-25", long_context=False
    ) == ("advanced-tool-use-2025-11-20")
    # ... and the per-turn effort and mid-conversation tool changes its bodies use, whole
    recorded = (
        "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,"
        "per-turn-control-2026-07-01,mid-conversation-tool-changes-2026-07-01,"
        "thinking-token-count-2026-05-13,advanced-tool-use-2025-11-20,effort-2025-11-24"
    )
    assert anthropic_betas(recorded, long_context=False) == recorded
    sent = upstream_headers(
        Provider.ANTHROPIC, [("anthropic-beta", "code-execution-2025-05-22")], api_key="k"
    )
    assert "anthropic-beta" not in _names(sent)


@pytest.mark.parametrize(
    ("query", "anthropic", "expected"),
    [
        ("beta=true", True, "beta=true"),
        ("beta=true&api-version=2024-01-01", True, "beta=true"),
        ("foo=1", True, ""),
        ("beta=false", True, ""),
        ("beta=true", False, ""),
        ("api-version=2024-01-01", False, ""),
        ("", True, ""),
    ],
)
def test_query_keeps_only_beta_true_on_anthropic_paths(
    query: str, anthropic: bool, expected: str
) -> None:
    assert forward_query(query, anthropic=anthropic) == expected


RELAYED = [
    ("Content-Type", "text/event-stream"),
    ("Content-Encoding", "gzip"),
    ("Content-Length", "10"),
    ("Cache-Control", "no-cache"),
    ("Retry-After", "3"),
    ("retry-after-ms", "3000"),
    ("x-should-retry", "true"),
]
NOT_RELAYED = [
    ("Transfer-Encoding", "chunked"),
    ("request-id", "req_1"),
    ("x-request-id", "req_2"),
    ("openai-organization", "org-pool"),
    ("openai-project", "proj_pool"),
    ("anthropic-organization-id", "org-uuid"),
    ("x-ratelimit-remaining-requests", "10"),
    ("anthropic-ratelimit-tokens-remaining", "1000"),
    ("Set-Cookie", "__cf_bm=x"),
    ("CF-RAY", "abc"),
    ("cf-cache-status", "DYNAMIC"),
    ("Server", "cloudflare"),
    ("Via", "1.1 google"),
    ("alt-svc", "h3"),
]


def test_response_headers_keep_what_clients_need_only() -> None:
    upstream = [pair for both in zip(RELAYED, NOT_RELAYED, strict=False) for pair in both]
    upstream += NOT_RELAYED[len(RELAYED) :]
    assert forward_response_headers(upstream) == RELAYED
    assert "Content-Length" not in dict(forward_response_headers(upstream, body_changed=True))
