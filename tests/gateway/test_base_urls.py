"""A base URL with or without /v1: the well-known paths answer under both bases, any other
path under /v1 answers in the caller's protocol with a sentence naming the base URL to use, and
refusals a client must not retry say so (`x-should-retry: false`, obeyed by both SDKs)."""

from __future__ import annotations

import httpx
import pytest

from spectra.gateway.refusals import retry_headers

from .world import ANTHROPIC_MODEL, OPENAI_MODEL, World

MESSAGES = [{"role": "user", "content": "hi"}]


async def test_messages_without_v1_is_served_like_with_it(
    client: httpx.AsyncClient, pooled: World
) -> None:
    body = {"model": ANTHROPIC_MODEL, "max_tokens": 50, "messages": MESSAGES}
    resp = await client.post("/messages", headers=pooled.headers(anthropic=True), json=body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["type"] == "message"
    await pooled.settle()
    assert [r.status for r in await pooled.records()] == ["ok"]


async def test_chat_completions_and_models_without_v1(
    client: httpx.AsyncClient, pooled: World
) -> None:
    body = {"model": OPENAI_MODEL, "messages": MESSAGES}
    chat = await client.post("/chat/completions", headers=pooled.headers(), json=body)
    models = await client.get("/models", headers=pooled.headers())
    assert chat.status_code == 200, chat.text
    assert chat.json()["object"] == "chat.completion"
    assert models.status_code == 200
    assert OPENAI_MODEL in {m["id"] for m in models.json()["data"]}


async def test_v1_twice_names_the_base_url_in_anthropic_shape(
    client: httpx.AsyncClient, pooled: World
) -> None:
    body = {"model": ANTHROPIC_MODEL, "max_tokens": 50, "messages": MESSAGES}
    resp = await client.post("/v1/v1/messages", headers=pooled.headers(anthropic=True), json=body)
    assert resp.status_code == 404
    payload = resp.json()
    assert payload["type"] == "error"
    assert payload["error"]["type"] == "not_found_error"
    assert payload["error"]["reason_code"] == "unknown_path"
    message = payload["error"]["message"]
    assert "/v1 twice" in message
    assert "base URL http://spectra.test;" in message  # the address this client reached
    assert resp.headers["x-should-retry"] == "false"


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_an_unknown_path_answers_in_openai_shape(
    client: httpx.AsyncClient, pooled: World, method: str
) -> None:
    resp = await client.request(
        method, "/v1/completions/legacy", headers=pooled.headers(), json={"model": OPENAI_MODEL}
    )
    assert resp.status_code == 404
    error = resp.json()["error"]
    assert error["code"] == "unknown_path"
    assert f"no {method} /v1/completions/legacy" in error["message"]
    assert "http://spectra.test/v1" in error["message"]
    assert resp.headers["x-spectra-reason"] == "unknown_path"


async def test_a_mistyped_key_tells_the_client_not_to_retry(
    client: httpx.AsyncClient, pooled: World
) -> None:
    resp = await client.post(
        "/v1/messages",
        headers={"x-api-key": "sk-spectra-mistyped000000000000000000", "anthropic-version": "1"},
        json={"model": ANTHROPIC_MODEL, "max_tokens": 10, "messages": MESSAGES},
    )
    assert resp.status_code == 401
    assert resp.json()["error"]["type"] == "authentication_error"
    assert resp.headers["x-should-retry"] == "false"


def test_rate_limits_and_outages_stay_retryable() -> None:
    assert retry_headers(429) == []
    assert retry_headers(503) == []
    assert retry_headers(402) == [(b"x-should-retry", b"false")]
