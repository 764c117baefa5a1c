"""Bad request bodies get a 4xx with a stable reason code in the caller's protocol, never a 500,
and nothing reaches the upstream; an unexpected internal error is a 500 in the protocol's shape."""

from __future__ import annotations

from typing import NamedTuple

import httpx
import pytest
from tests.fakes.upstream import FakeUpstream

from spectra.gateway import generation

from .world import ANTHROPIC_MODEL, OPENAI_MODEL, World


class Endpoint(NamedTuple):
    path: str
    anthropic: bool
    model: str
    limit: str
    """The token-limit field."""
    listed: str
    """The conversation field (a list)."""


ENDPOINTS = {
    "messages": Endpoint("/v1/messages", True, ANTHROPIC_MODEL, "max_tokens", "messages"),
    "chat": Endpoint("/v1/chat/completions", False, OPENAI_MODEL, "max_tokens", "messages"),
    "responses": Endpoint("/v1/responses", False, OPENAI_MODEL, "max_output_tokens", "input"),
}


def _bodies(model: str, limit: str, listed: str) -> list[tuple[str, bytes, str]]:
    """(case, raw body, expected reason code)."""
    good = f'"model":"{model}","{listed}":[{{"role":"user","content":"hi"}}]'
    deep = "[" * 200_000 + "]" * 200_000
    deep_objects = '{"a":' * 100_000 + "1" + "}" * 100_000
    return [
        ("nan", f'{{{good},"{limit}":NaN}}'.encode(), "invalid_request_body"),
        ("infinity", f'{{{good},"{limit}":Infinity}}'.encode(), "invalid_request_body"),
        ("minus-infinity", f'{{{good},"{limit}":-Infinity}}'.encode(), "invalid_request_body"),
        ("overflow", f'{{{good},"{limit}":1e400}}'.encode(), "invalid_request_field"),
        ("fraction", f'{{{good},"{limit}":12.5}}'.encode(), "invalid_request_field"),
        ("negative", f'{{{good},"{limit}":-5}}'.encode(), "invalid_request_field"),
        ("string-limit", f'{{{good},"{limit}":"100"}}'.encode(), "invalid_request_field"),
        ("bool-limit", f'{{{good},"{limit}":true}}'.encode(), "invalid_request_field"),
        ("huge-int", f'{{{good},"{limit}":{"9" * 6000}}}'.encode(), "invalid_request_body"),
        ("deep", f'{{{good},"x":{deep}}}'.encode(), "invalid_request_body"),
        (
            "deep-objects",
            f'{{{good},"x":{deep_objects}}}'.encode(),
            "invalid_request_body",
        ),
        (
            "model-too-long",
            f'{{"model":"{model}{"x" * 200}","{listed}":[]}}'.encode(),
            "invalid_request_field",
        ),
        ("model-number", f'{{"model":123,"{listed}":[]}}'.encode(), "invalid_request_field"),
        ("model-list", f'{{"model":["{model}"],"{listed}":[]}}'.encode(), "invalid_request_field"),
        (
            "list-field",
            f'{{"model":"{model}","{listed}":{{"a":1}}}}'.encode(),
            "invalid_request_field",
        ),
        ("stream-string", f'{{{good},"stream":"true"}}'.encode(), "invalid_request_field"),
        ("stream-number", f'{{{good},"stream":1}}'.encode(), "invalid_request_field"),
        ("stream-options", f'{{{good},"stream_options":"x"}}'.encode(), "invalid_request_field"),
        ("array", b"[1, 2, 3]", "invalid_request_body"),
        ("string", b'"hello"', "invalid_request_body"),
        ("empty", b"", "invalid_request_body"),
        ("trailing", f"{{{good}}} {{}}".encode(), "invalid_request_body"),
        ("utf8", f'{{{good},"x":"'.encode() + b"\xff\xfe" + b'"}', "invalid_request_body"),
        ("utf16", f"{{{good}}}".encode("utf-16"), "invalid_request_body"),
        ("duplicate", f'{{{good},"model":"{model}"}}'.encode(), "duplicate_key"),
        ("duplicate-escaped", f'{{{good},"mod\\u0065l":"other"}}'.encode(), "duplicate_key"),
    ]


def _reason(resp: httpx.Response, *, anthropic: bool) -> str:
    body = resp.json()
    if anthropic:
        assert body["type"] == "error"
        assert body["error"]["type"] == "invalid_request_error"
        return str(body["error"]["reason_code"])
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["code"] == body["error"]["reason_code"]
    return str(body["error"]["code"])


@pytest.mark.parametrize("name", ENDPOINTS)
async def test_bad_bodies_are_400s_in_the_protocols_shape(
    client: httpx.AsyncClient,
    pooled: World,
    fake: FakeUpstream,
    name: str,
) -> None:
    path, anthropic, model, limit, listed = ENDPOINTS[name]
    answers: dict[str, tuple[int, str]] = {}
    expected: dict[str, tuple[int, str]] = {}
    for case, raw, code in _bodies(model, limit, listed):
        resp = await client.post(
            path,
            headers={**pooled.headers(anthropic=anthropic), "content-type": "application/json"},
            content=raw,
        )
        reason = _reason(resp, anthropic=anthropic) if resp.status_code < 500 else resp.text
        assert resp.headers.get("x-spectra-reason", reason) == reason
        answers[case] = (resp.status_code, reason)
        expected[case] = (400, code)
    assert answers == expected
    assert fake.requests == []


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b'{"model":"claude-sonnet-4-5","model":"claude-opus-4-8","messages":[]}', "duplicate_key"),
        (b'{"model":"claude-sonnet-4-5","messages":[],"max_tokens":NaN}', "invalid_request_body"),
        (b'{"model":7,"messages":[]}', "invalid_request_field"),
    ],
)
async def test_count_tokens_refuses_bad_bodies_too(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream, raw: bytes, code: str
) -> None:
    resp = await client.post(
        "/v1/messages/count_tokens", headers=pooled.headers(anthropic=True), content=raw
    )
    assert resp.status_code == 400, resp.text
    assert _reason(resp, anthropic=True) == code
    assert fake.requests == []


async def test_a_whole_float_limit_is_taken_as_its_integer(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream
) -> None:
    resp = await client.post(
        "/v1/chat/completions",
        headers=pooled.headers(),
        content=f'{{"model":"{OPENAI_MODEL}","messages":[],"max_tokens":100.0}}'.encode(),
    )
    assert resp.status_code == 200, resp.text
    assert len(fake.requests) == 1


@pytest.mark.parametrize("name", ENDPOINTS)
async def test_an_internal_error_is_a_500_in_the_protocols_shape(
    app: object,
    pooled: World,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
) -> None:
    endpoint = ENDPOINTS[name]
    path, anthropic, model, listed = (
        endpoint.path,
        endpoint.anthropic,
        endpoint.model,
        endpoint.listed,
    )

    async def broken(**_: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(generation, "admit", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://spectra.test") as client:
        resp = await client.post(
            path,
            headers={**pooled.headers(anthropic=anthropic), "x-request-id": "trace-500-0001"},
            json={"model": model, listed: []},
        )
    assert resp.status_code == 500
    body = resp.json()
    if anthropic:
        assert body["type"] == "error"
        assert body["error"]["type"] == "api_error"
        assert "trace-500-0001" in body["error"]["message"]
    else:
        assert body["error"]["type"] == "server_error"
        assert body["error"]["code"] == "internal_error"
        assert "trace-500-0001" in body["error"]["message"]
