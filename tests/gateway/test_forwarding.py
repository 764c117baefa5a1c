"""What crosses the gateway, end to end: caller headers and query by allowlist, upstream
response headers by allowlist, and `context-1m` only where long prompts are priced."""

from __future__ import annotations

import httpx
from tests.fakes.upstream import Fail, FakeUpstream, Reply

from .world import ANTHROPIC_MODEL, OPENAI_MODEL, World

HOSTILE = {
    "cookie": "spectra_session=console-session",
    "openai-organization": "org-the-member-picks",
    "openai-project": "proj_x",
    "x-forwarded-for": "10.1.2.3",
    "forwarded": "for=10.1.2.3",
    "idempotency-key": "shared-key",
    "x-anything": "1",
}
POOL_SECRETS = {
    "openai-organization": "org-pool-account",
    "openai-project": "proj_pool",
    "anthropic-organization-id": "2f0e-pool",
    "x-ratelimit-remaining-requests": "9",
    "anthropic-ratelimit-tokens-remaining": "1000",
    "set-cookie": "__cf_bm=abc",
    "cf-ray": "8a1b2c",
    "request-id": "req_pool_account",
}


async def test_only_allowed_caller_headers_and_query_reach_the_upstream(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream
) -> None:
    resp = await client.post(
        "/v1/chat/completions?api-version=2024-01-01&user=x",
        headers={**pooled.headers(), **HOSTILE, "x-stainless-os": "Linux", "user-agent": "ua/1"},
        json={"model": OPENAI_MODEL, "messages": [{"role": "user", "content": "x"}]},
    )
    assert resp.status_code == 200, resp.text
    sent = fake.requests[-1]
    assert sent.query == ""
    for name in HOSTILE:
        assert sent.header(name) is None, name
    assert sent.header("x-stainless-os") == "Linux"
    assert sent.header("user-agent") == "ua/1"


async def test_anthropic_query_keeps_beta_true_only(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream
) -> None:
    resp = await client.post(
        "/v1/messages?beta=true&foo=bar",
        headers={**pooled.headers(anthropic=True), **HOSTILE},
        json={"model": ANTHROPIC_MODEL, "max_tokens": 10, "messages": []},
    )
    assert resp.status_code == 200, resp.text
    sent = fake.requests[-1]
    assert sent.query == "beta=true"
    for name in HOSTILE:
        assert sent.header(name) is None, name


async def test_pool_account_response_headers_never_reach_the_member(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream
) -> None:
    fake.script(
        Reply(text="hi", extra_headers=POOL_SECRETS),
        Reply(text="hi", extra_headers=POOL_SECRETS),
    )
    for stream in (False, True):
        resp = await client.post(
            "/v1/chat/completions",
            headers=pooled.headers(),
            json={"model": OPENAI_MODEL, "stream": stream, "messages": []},
        )
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"].startswith(
            "text/event-stream" if stream else "application/json"
        )
        for name in POOL_SECRETS:
            assert name not in resp.headers, name
        assert resp.headers.get_list("x-request-id") == [resp.headers["x-spectra-request-id"]]


async def test_pool_account_headers_are_dropped_from_a_passed_through_error(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream
) -> None:
    fake.script(Fail("invalid_request", extra_headers=POOL_SECRETS))
    resp = await client.post(
        "/v1/messages",
        headers=pooled.headers(anthropic=True),
        json={"model": ANTHROPIC_MODEL, "max_tokens": 10, "messages": []},
    )
    assert resp.status_code == 400
    assert resp.headers["x-spectra-upstream-error"]
    for name in POOL_SECRETS:
        assert name not in resp.headers, name


async def test_context_1m_passes_only_where_long_prompts_are_priced(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream
) -> None:
    beta = "claude-code-20250219,context-1m-2025-08-07,fast-mode-2026-02-01"
    # The test workspace prices ANTHROPIC_MODEL flat (an override): no long-context tier.
    flat = await client.post(
        "/v1/messages",
        headers={**pooled.headers(anthropic=True), "anthropic-beta": beta},
        json={"model": ANTHROPIC_MODEL, "max_tokens": 10, "messages": []},
    )
    assert flat.status_code == 200, flat.text
    assert fake.requests[-1].header("anthropic-beta") == "claude-code-20250219"
    # No override: the default (genai-prices) price, which has a long-context tier.
    tiered = await client.post(
        "/v1/messages",
        headers={**pooled.headers(anthropic=True), "anthropic-beta": beta},
        json={"model": "claude-haiku-5-5", "max_tokens": 10, "messages": []},
    )
    assert tiered.status_code == 200, tiered.text
    assert (
        fake.requests[-1].header("anthropic-beta") == "claude-code-20250219,context-1m-2025-08-07"
    )
