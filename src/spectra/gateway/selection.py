"""Upstream selection and failover before the first byte.

Each attempt asks the pool scheduler for an account (session affinity from the client's
session header or `prompt_cache_key`), rewrites only `model` (aliases) and, for OpenAI chat
streams, `stream_options.include_usage`, and sends. A failure the taxonomy marks
`retryable_elsewhere` (rate limited, overloaded, auth, quota, 5xx, timeouts, connect errors)
is reported to the pool and the next account is tried, up to `max_attempts`; nothing has
reached the caller yet, so the caller sees one answer and is billed at most once.

When only an account of another protocol serves the model, the attempt is translated
(translation.py): the body is rewritten for that protocol and sent to its path, and an error
is classified on the upstream's protocol, then handed to the caller in its own shape.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from spectra.errors import RefusedError
from spectra.pool.errors import NoAccountAvailableError
from spectra.pool.scheduler import Scheduler, Selection
from spectra.providers import Provider, azure, bedrock, gemini, upstream_headers, vertex
from spectra.providers.bodies import RequestInfo, rewrite_request
from spectra.providers.client import Timeouts, UpstreamClient, UpstreamResponse
from spectra.providers.errors import UpstreamFailure, classify_response
from spectra.providers.headers import forward_query
from spectra.providers.translate import TranslationContext
from spectra.providers.types import WireProtocol

from . import metrics
from .translation import UPSTREAM_PATHS, translated_body, translated_failure

SESSION_HEADERS = ("x-claude-code-session-id", "session-id", "x-session-id")


@dataclass(slots=True)
class Forwarded:
    selection: Selection
    response: UpstreamResponse
    attempts: int
    sent_at: float
    headers_at: float
    injected_usage: bool
    translation: TranslationContext | None = None
    """Set when the account speaks another protocol: translate its answer with this."""
    frames: Callable[[bytes], bytes] | None = None
    """Turns the upstream's stream framing into SSE (Bedrock's event stream), if it needs it."""


@dataclass(slots=True)
class Attempts:
    count: int = 0
    failures: list[UpstreamFailure] = field(default_factory=list)


def _gemini_url(selection: Selection, stream: bool) -> str:
    path = gemini.generate_path(selection.upstream_model, stream=stream)
    return selection.base_url.rstrip("/") + path


def _kind_url(selection: Selection, protocol: WireProtocol, stream: bool) -> str | None:
    """The URL for kinds whose paths are not the protocol's `/v1/...` path, else None."""
    if selection.provider == "azure_openai":
        return azure.request_url(
            selection.base_url,
            protocol=protocol,
            deployment=selection.upstream_model,
            api_version=selection.settings.get("api_version", azure.DEFAULT_API_VERSION),
        )
    if protocol is WireProtocol.GEMINI:
        return _gemini_url(selection, stream)
    return None


async def _vertex(
    selection: Selection, body: bytes, headers: list[tuple[str, str]], stream: bool
) -> tuple[str, bytes, list[tuple[str, str]]]:
    """A Messages request as Vertex's rawPredict takes it, or a Gemini one as its
    generateContent does, with the account's bearer token (cached; a key Google refuses raises
    an auth failure, which fails over)."""
    token = await vertex.tokens_for(selection.credential.reveal()).token()
    if selection.upstream_protocol == vertex.GEMINI_PROTOCOL:
        url = vertex.generate_url(
            selection.base_url,
            project=selection.settings["project"],
            region=selection.settings["region"],
            model=selection.upstream_model,
            stream=stream,
        )
        return url, body, [*headers, ("Authorization", f"Bearer {token}")]
    fields = json.loads(body)
    url = vertex.predict_url(
        selection.base_url,
        project=selection.settings["project"],
        region=selection.settings["region"],
        model=vertex.model_id(str(fields.get("model") or selection.upstream_model)),
        stream=fields.get("stream") is True,
    )
    return url, vertex.request_body(fields), [*headers, ("Authorization", f"Bearer {token}")]


async def _azure(selection: Selection, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """With Entra client credentials, the app's bearer token (cached; refused credentials
    raise an auth failure, which fails over); an API key is already in `headers`."""
    secret = selection.credential.reveal()
    if not azure.is_entra(secret):
        return headers
    token = await azure.tokens_for(secret).token()
    return [*headers, ("Authorization", f"Bearer {token}")]


def _bedrock(
    selection: Selection, body: bytes, headers: list[tuple[str, str]]
) -> tuple[str, bytes, list[tuple[str, str]]]:
    """A Messages request as Bedrock's InvokeModel takes it, SigV4-signed with the account's
    IAM key; the caller's `anthropic-beta` values move into the body."""
    fields = json.loads(body)
    region = selection.settings["region"]
    stream = fields.get("stream") is True
    model = bedrock.model_id(str(fields.get("model") or selection.upstream_model), region=region)
    url = bedrock.invoke_url(selection.base_url, model, stream=stream)
    betas = [
        beta.strip()
        for name, value in headers
        if name.lower() == "anthropic-beta"
        for beta in value.split(",")
        if beta.strip()
    ]
    data = bedrock.request_body(fields, betas=betas)
    keys = bedrock.keys_of(selection.credential.reveal())
    signed = bedrock.signed_headers("POST", url, data, keys=keys, region=region, stream=stream)
    return url, data, signed


def session_key(headers: Sequence[tuple[str, str]], info: RequestInfo) -> str | None:
    lowered = {k.lower(): v for k, v in headers}
    for name in SESSION_HEADERS:
        value = lowered.get(name)
        if value:
            return f"{name}:{value}"
    cache_key = info.fields.get("prompt_cache_key")
    if isinstance(cache_key, str) and cache_key:
        return f"prompt_cache_key:{cache_key}"
    return None


async def forward(
    *,
    scheduler: Scheduler,
    client: UpstreamClient,
    protocol: WireProtocol,
    path: str,
    query: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    body_decompressed: bool,
    info: RequestInfo,
    model: str,
    group_id: uuid.UUID,
    timeouts: Timeouts,
    max_attempts: int,
    attempts: Attempts,
    long_context: bool = False,
    translate: bool = True,
    before_send: Callable[[Selection], Awaitable[None]] | None = None,
) -> Forwarded:
    """Send to the first account that answers with a success status.

    Raises `NoAccountAvailableError` when no account could even be tried, or the last
    `UpstreamFailure` (its body and status pass through to the caller) when every try failed.
    `translate`: accounts of other protocols may serve (see translation.py).
    `before_send(selection)` runs before anything is sent to an account (the hold at the served
    model's price); a `RefusedError` from it skips that account, and is raised when no other
    account could be tried.
    """
    tried: set[uuid.UUID] = set()
    refused: RefusedError | None = None
    inject = protocol is WireProtocol.OPENAI_CHAT and info.stream and not info.include_usage
    query = forward_query(query, anthropic=protocol is WireProtocol.ANTHROPIC_MESSAGES)
    affinity = session_key(headers, info)
    await scheduler.recall(affinity)
    while True:
        try:
            selection = scheduler.select(
                protocol.value, model, group_id, affinity, exclude=tried, translate=translate
            )
        except NoAccountAvailableError:
            if attempts.failures:
                raise attempts.failures[-1] from None
            if refused is not None:
                raise refused from None
            raise
        tried.add(selection.account_id)
        if before_send is not None:
            try:
                await before_send(selection)
            except RefusedError as exc:
                scheduler.release(selection)
                refused = exc
                continue
            except BaseException:
                scheduler.release(selection)
                raise
        await scheduler.remember(affinity, selection)
        attempts.count += 1
        context: TranslationContext | None = None
        if selection.translated:
            try:
                upstream_body, context = translated_body(info.fields, protocol, selection)
            except BaseException:
                scheduler.release(selection)
                raise
            upstream = WireProtocol(selection.upstream_protocol)
            url = _kind_url(selection, upstream, info.stream) or selection.url(
                UPSTREAM_PATHS[upstream]
            )
        elif protocol is WireProtocol.GEMINI:
            upstream_body = body  # the model (alias mapped) goes in the URL, not the body
            url = _gemini_url(selection, info.stream)
        else:
            upstream_body = rewrite_request(
                body,
                model=selection.upstream_model if selection.upstream_model != info.model else None,
                include_usage=inject,
                parsed=info,
            )
            url = _kind_url(selection, protocol, info.stream) or (
                selection.url(path) + (f"?{query}" if query else "")
            )
        send_headers = upstream_headers(
            Provider(selection.provider),
            list(headers),
            api_key=selection.credential.reveal(),
            body_decompressed=body_decompressed or context is not None,
            long_context=long_context,
            protocol=WireProtocol(selection.upstream_protocol or protocol.value),
        )
        sent_at = time.monotonic()
        try:
            if selection.provider == "vertex":
                url, upstream_body, send_headers = await _vertex(
                    selection, upstream_body, send_headers, info.stream
                )
            elif selection.provider == "bedrock":
                url, upstream_body, send_headers = _bedrock(selection, upstream_body, send_headers)
            elif selection.provider == "azure_openai":
                send_headers = await _azure(selection, send_headers)
            response = await client.send(
                "POST", url, headers=send_headers, body=upstream_body, timeouts=timeouts
            )
            if response.status >= 400:
                raw = await response.read()
                response.release()
                failure = classify_response(
                    selection.provider, response.status, response.header_pairs(), raw
                )
                if failure is not None:
                    raise failure
        except UpstreamFailure as failure:
            metrics.observe_upstream_error(failure.type.value, selection.account_name)
            scheduler.report(selection, failure)
            scheduler.release(selection)
            if context is not None and failure.status is not None and failure.body:
                failure = translated_failure(failure, context)
            attempts.failures.append(failure)
            if not failure.retryable_elsewhere or attempts.count >= max_attempts:
                raise failure
            continue
        return Forwarded(
            selection=selection,
            response=response,
            attempts=attempts.count,
            sent_at=sent_at,
            headers_at=time.monotonic(),
            injected_usage=inject and context is None,
            translation=context,
            frames=bedrock.EventStreamToSSE().feed
            if selection.provider == "bedrock" and info.stream
            else None,
        )
