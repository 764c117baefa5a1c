"""Cheap real requests through an account: Anthropic `POST /v1/messages/count_tokens` (or
`GET /v1/models` when the account names no exact model), OpenAI `GET /v1/models`; for the
cloud kinds see `cloud_probes.py`."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from spectra.providers import anthropic, openai, vertex
from spectra.providers.client import Timeouts, UpstreamClient
from spectra.providers.errors import UpstreamFailure, classify_exception

from .cloud_probes import CLOUD_KINDS, cloud_request
from .credentials import Credential
from .urls import upstream_url

PROBE_TIMEOUTS = Timeouts(connect=5.0, first_byte=15.0, idle=15.0)
_GLOB = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    ok: bool
    latency_ms: float
    failure_type: str | None = None
    status: int | None = None
    retry_after: float | None = None
    message: str = ""

    @property
    def label(self) -> str:
        return "ok" if self.ok else (self.failure_type or "failed")


def probe_model(models: list[str] | tuple[str, ...]) -> str | None:
    """The first exact (non-pattern) model name the account serves."""
    return next((m for m in models if not _GLOB & set(m)), None)


async def probe(
    client: UpstreamClient,
    *,
    provider: str,
    base_url: str,
    credential: Credential,
    models: list[str] | tuple[str, ...],
    timeouts: Timeouts = PROBE_TIMEOUTS,
    settings: dict[str, str] | None = None,
) -> ProbeOutcome:
    """Send one cheap request and classify its outcome; never raises for upstream trouble."""
    model = probe_model(models)
    if model is None and provider == "vertex" and models and all(map(vertex.is_gemini, models)):
        model = "gemini-2.5-flash"  # a Gemini-only Vertex account: its Gemini token counter
    body: bytes | None = None
    started = time.perf_counter()
    if provider in CLOUD_KINDS:
        try:
            method, url, headers, body = await cloud_request(
                provider, base_url, credential, model, settings or {}
            )
        except Exception as exc:  # a key google-auth could not exchange, ...
            return _failed(classify_exception(exc, after_headers=False), started)
        return await _send(client, method, url, headers, body, provider, timeouts, started)
    if provider == "anthropic":
        headers = anthropic.upstream_headers([], api_key=credential.reveal())
        if model is not None:
            method, path = "POST", "/v1/messages/count_tokens"
            body = json.dumps(
                {"model": model, "messages": [{"role": "user", "content": "ping"}]}
            ).encode()
            headers.append(("content-type", "application/json"))
        else:
            method, path = "GET", "/v1/models"
    else:
        headers = openai.upstream_headers([], api_key=credential.reveal())
        method, path = "GET", "/v1/models"
    url = upstream_url(base_url, path)
    return await _send(client, method, url, headers, body, provider, timeouts, started)


async def _send(
    client: UpstreamClient,
    method: str,
    url: str,
    headers: list[tuple[str, str]],
    body: bytes | None,
    provider: str,
    timeouts: Timeouts,
    started: float,
) -> ProbeOutcome:
    try:
        response = await client.send(method, url, headers=headers, body=body, timeouts=timeouts)
        async with response:
            await response.raise_for_failure(provider)
            await response.read()
    except UpstreamFailure as failure:
        return _failed(failure, started)
    except Exception as exc:
        return _failed(classify_exception(exc, after_headers=True), started)
    return ProbeOutcome(ok=True, latency_ms=_elapsed(started))


def _failed(failure: UpstreamFailure, started: float) -> ProbeOutcome:
    return ProbeOutcome(
        ok=False,
        latency_ms=_elapsed(started),
        failure_type=failure.type.value,
        status=failure.status,
        retry_after=failure.retry_after,
        message=failure.message[:300],
    )


def _elapsed(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 1)
