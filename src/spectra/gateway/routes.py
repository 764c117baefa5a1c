"""The gateway's endpoints as plain ASGI apps (no FastAPI machinery on the hot path).

    POST /v1/chat/completions   OpenAI chat          POST /v1/messages[?beta=true]   Anthropic
    POST /v1/responses          OpenAI Responses     POST /v1/messages/count_tokens  Anthropic
    GET  /v1/models             OpenAI shape, Anthropic shape with `anthropic-version`
    GET  /v1/responses          WebSocket upgrade: refused at once with 426

Per request: key -> body -> access decision, price, rate limits, hold -> account, forward,
failover before the first byte -> relay with usage tap -> settle (see settlement.py).
"""

from __future__ import annotations

import logging
import time
import zlib
from dataclasses import replace
from typing import Any

import zstandard
from starlette.types import Receive, Scope, Send

from spectra.errors import SpectraError
from spectra.pool.errors import ModelNotServedError, NoAccountAvailableError
from spectra.pool.scheduler import Succeeded
from spectra.providers import inspect_request, read_response_body
from spectra.providers.bodies import RequestInfo
from spectra.providers.errors import UpstreamFailure
from spectra.providers.metering import Metered, estimate_tokens_from_chars, meter
from spectra.providers.translate import (
    SSEStreamTranslator,
    TranslationRefusedError,
    UnreadableAnswerError,
    UnreadableBodyError,
)
from spectra.providers.types import WireProtocol
from spectra.usage.clients import client_family

from . import metrics, models_list, refusals
from .admission import Admission, AdmissionRefused, admit
from .auth import authenticate
from .errors import (
    GatewayNotReadyError,
    InvalidRequestBodyError,
    ModelMissingError,
    RequestTooLargeError,
    ShuttingDownError,
    UnsupportedEncodingError,
    WebSocketNotSupportedError,
)
from .selection import Attempts, Forwarded, forward
from .settlement import base_record
from .streaming import decode_body, relay_stream, response_headers
from .translation import body_headers_dropped, translated_answer
from .wiring import Gateway, current

log = logging.getLogger(__name__)


def request_id_of(scope: Scope) -> str:
    rid = scope.get("state", {}).get("request_id")
    return str(rid) if rid else "req_unknown"


def _client_ip(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


def _header_pairs(scope: Scope) -> list[tuple[str, str]]:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def read_body(scope: Scope, receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The request body, decompressed when `content-encoding` is gzip/deflate/zstd; both the
    bytes received and the decompressed body are bounded by `limit`."""
    length = _header(scope, b"content-length")
    too_large = RequestTooLargeError(
        f"The request body is larger than this gateway accepts ({limit // (1024 * 1024)} MiB).",
        limit_bytes=limit,
    )
    if length is not None and length.isdigit() and int(length) > limit:
        raise too_large
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise InvalidRequestBodyError("The client went away before sending the whole body.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large
        parts.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(parts)
    encoding = (_header(scope, b"content-encoding") or "").strip().lower()
    if encoding in ("", "identity"):
        return body, False
    try:
        if encoding in ("gzip", "x-gzip", "deflate"):
            inflater = zlib.decompressobj(wbits=47)
            out = inflater.decompress(body, limit + 1)
        elif encoding == "zstd":
            reader = zstandard.ZstdDecompressor().stream_reader(body)
            out = reader.read(limit + 1)
            reader.close()  # type: ignore[no-untyped-call]
        else:
            raise UnsupportedEncodingError(
                f"The body's content-encoding '{encoding}' is not supported; send it plain, "
                "gzip or zstd.",
                encoding=encoding,
            )
    except (zlib.error, zstandard.ZstdError) as exc:
        raise InvalidRequestBodyError(
            f"The request body could not be decompressed as {encoding}.", encoding=encoding
        ) from exc
    if len(out) > limit:
        raise too_large
    return out, True


class GenerationEndpoint:
    """POST endpoints that generate (and cost money): chat, responses, messages."""

    def __init__(self, protocol: WireProtocol, path: str) -> None:
        self.protocol = protocol
        self.path = path
        self.anthropic = protocol is WireProtocol.ANTHROPIC_MESSAGES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = request_id_of(scope)
        gw = current()
        if gw is None:
            await refusals.send_refusal(
                send,
                GatewayNotReadyError("The gateway is not running in this process."),
                anthropic=self.anthropic,
                request_id=rid,
            )
            return
        if not gw.accepting:
            await refusals.send_refusal(
                send,
                ShuttingDownError("This server is shutting down; retry in a moment."),
                anthropic=self.anthropic,
                request_id=rid,
            )
            return
        gw.enter()
        try:
            await self._handle(gw, scope, receive, send, rid)
        finally:
            gw.leave()

    async def _handle(
        self, gw: Gateway, scope: Scope, receive: Receive, send: Send, rid: str
    ) -> None:
        try:
            entry = await authenticate(gw.keys, scope["headers"], _client_ip(scope))
            body, decompressed = await read_body(scope, receive, gw.settings.gateway_max_body_bytes)
            info = inspect_request(self.protocol, body)
            if not info.model:
                raise ModelMissingError("The request names no model; set the 'model' field.")
        except SpectraError as exc:
            metrics.observe_request(self.protocol.value, "", "refused", exc.code)
            await refusals.send_refusal(send, exc, anthropic=self.anthropic, request_id=rid)
            return
        headers = _header_pairs(scope)
        family = client_family(_header(scope, b"user-agent"), dict(headers))
        model = info.model
        try:
            admission = await admit(
                request_id=rid,
                entry=entry,
                info=info,
                model=model,
                cache=gw.policy,
                view=gw.view,
                prices=gw.prices,
                limiter=gw.limiter,
                settings=gw.workspace,
                key_limits=gw.key_limits(str(entry.key_id)),
                user_limits=gw.user_limits(str(entry.user_id)),
                client=family,
                backlog=gw.committer,
                backlog_wait=gw.settings.commit_backlog_wait,
            )
        except AdmissionRefused as refused:
            metrics.observe_request(self.protocol.value, model, "refused", refused.error.code)
            record = base_record(
                request_id=rid,
                protocol=self.protocol.value,
                model=model,
                admission=None,
                client_family=family,
                user_id=entry.user_id,
                key_id=entry.key_id,
                group_id=entry.group_id,
                streamed=info.stream,
            )
            gw.settler.record(
                replace(
                    record,
                    status="refused",
                    refusal_reason=refused.error.code,
                    refusal_rule=refused.rule,
                    refusal_message=refused.error.message[:500],
                )
            )
            await refusals.send_refusal(
                send, refused.error, anthropic=self.anthropic, request_id=rid
            )
            return
        try:
            await self._forward(
                gw,
                admission,
                scope,
                receive,
                send,
                rid,
                info,
                body,
                decompressed,
                headers,
                # The admission's entry is the key's, and its start time the record's.
                base_record(
                    request_id=rid,
                    protocol=self.protocol.value,
                    model=model,
                    admission=admission,
                    client_family=family,
                    streamed=info.stream,
                ),
            )
        finally:
            # A bug or a cancellation must not strand money or slots: settle() clears the hold,
            # so this releases only what an unexpected exit left behind.
            if admission.hold is not None:
                await gw.settler.release(admission)
            if admission.lease is not None:
                admission.lease.finish(0)

    async def _forward(
        self,
        gw: Gateway,
        admission: Admission,
        scope: Scope,
        receive: Receive,
        send: Send,
        rid: str,
        info: RequestInfo,
        body: bytes,
        decompressed: bool,
        headers: list[tuple[str, str]],
        record: Any,
    ) -> None:
        attempts = Attempts()
        started = time.monotonic()
        try:
            forwarded = await forward(
                scheduler=gw.scheduler,
                client=gw.client,
                protocol=self.protocol,
                path=self.path,
                query=scope.get("query_string", b"").decode("latin-1"),
                headers=headers,
                body=body,
                body_decompressed=decompressed,
                info=info,
                model=admission.model,
                group_id=admission.entry.group_id,
                timeouts=gw.timeouts,
                max_attempts=gw.settings.gateway_max_attempts,
                attempts=attempts,
                # A 1M-context beta only where long prompts are priced as the upstream bills them.
                long_context=bool(admission.price.tiers),
            )
        except (
            UpstreamFailure,
            NoAccountAvailableError,
            ModelNotServedError,
            TranslationRefusedError,
            UnreadableBodyError,
        ) as exc:
            await gw.settler.release(admission)
            if admission.lease is not None:
                admission.lease.finish(0)
            failure = exc if isinstance(exc, UpstreamFailure) else None
            metrics.observe_request(
                self.protocol.value,
                admission.model,
                "error" if failure is not None else "refused",
                failure.type.value if failure is not None else exc.code,
                latency=time.monotonic() - started,
            )
            gw.settler.record(
                replace(
                    record,
                    status="error" if failure is not None else "refused",
                    error_type=failure.type.value if failure is not None else None,
                    refusal_reason=None if failure is not None else exc.code,
                    refusal_rule=None if failure is not None else "pool",
                    refusal_message=None if failure is not None else exc.message[:500],
                    attempts=max(attempts.count, 1),
                    latency_ms=_ms(time.monotonic() - started),
                )
            )
            if failure is not None and failure.status is not None and failure.body:
                await refusals.send_upstream_error(send, failure, request_id=rid)
            else:
                await refusals.send_refusal(send, exc, anthropic=self.anthropic, request_id=rid)
            return
        try:
            await self._relay(gw, admission, forwarded, receive, send, rid, info, record, started)
        finally:
            gw.scheduler.release(forwarded.selection)

    async def _relay(
        self,
        gw: Gateway,
        admission: Admission,
        forwarded: Forwarded,
        receive: Receive,
        send: Send,
        rid: str,
        info: RequestInfo,
        record: Any,
        started: float,
    ) -> None:
        if info.stream:
            await self._relay_stream(
                gw, admission, forwarded, receive, send, rid, info, record, started
            )
        else:
            await self._relay_body(gw, admission, forwarded, send, rid, info, record, started)

    async def _relay_body(
        self,
        gw: Gateway,
        admission: Admission,
        fw: Forwarded,
        send: Send,
        rid: str,
        info: RequestInfo,
        record: Any,
        started: float,
    ) -> None:
        resp = fw.response
        failure: UpstreamFailure | None = None
        try:
            raw = await resp.read()
        except UpstreamFailure as exc:
            failure = exc
            raw = b""
        ctx = fw.translation
        decoded = decode_body(raw, resp.headers.get("content-encoding"))
        usage, served, chars = read_response_body(
            self.protocol if ctx is None else ctx.upstream, decoded
        )
        # An answer without (sane) usage is billed on the estimate, as a stream would be.
        metered = (
            meter(
                usage,
                input_estimate=info.input_tokens_estimate,
                output_estimate=estimate_tokens_from_chars(chars),
                window=admission.window,
            )
            if failure is None
            else None
        )
        headers = response_headers(resp, rid)
        unreadable: UnreadableAnswerError | None = None
        if ctx is not None and failure is None:
            try:
                raw = translated_answer(decoded, ctx)
                headers = body_headers_dropped(headers)
            except UnreadableAnswerError as exc:
                unreadable, metered = exc, None
        if failure is None:
            resp.release()
        if unreadable is not None:
            await refusals.send_refusal(send, unreadable, anthropic=self.anthropic, request_id=rid)
        elif failure is None:
            await send({"type": "http.response.start", "status": resp.status, "headers": headers})
            await send({"type": "http.response.body", "body": raw, "more_body": False})
        else:
            await refusals.send_upstream_error(send, failure, request_id=rid)
        await self._finish(
            gw,
            admission,
            fw,
            record,
            metered,
            started=started,
            status="ok" if failure is None and unreadable is None else "error",
            error_type=failure.type.value
            if failure
            else (unreadable.code if unreadable is not None else None),
            ttfb=fw.headers_at,
            served=served,
            failure=failure,
        )

    async def _relay_stream(
        self,
        gw: Gateway,
        admission: Admission,
        fw: Forwarded,
        receive: Receive,
        send: Send,
        rid: str,
        info: RequestInfo,
        record: Any,
        started: float,
    ) -> None:
        result = await relay_stream(
            fw.response,
            protocol=self.protocol if fw.translation is None else fw.translation.upstream,
            withhold_usage=fw.injected_usage,
            request_id=rid,
            translator=None if fw.translation is None else SSEStreamTranslator(fw.translation),
            receive=receive,
            send=send,
        )
        tap = result.tap
        metered: Metered | None
        if tap.finished and result.failure is None and not result.client_gone:
            metered = tap.metered(
                input_tokens_estimate=info.input_tokens_estimate, window=admission.window
            )
            status, error_type = "ok", None
        else:
            # Partial: billed for what the upstream reported or, failing that, the estimate;
            # nothing generated means nothing billed.
            metered = (
                tap.metered(
                    input_tokens_estimate=info.input_tokens_estimate, window=admission.window
                )
                if tap.saw_output
                else None
            )
            status = "partial"
            if result.client_gone:
                error_type = "client_disconnected"
            elif result.failure is not None:
                error_type = result.failure.type.value
            else:
                error_type = "stream_broken"
        await self._finish(
            gw,
            admission,
            fw,
            record,
            metered,
            started=started,
            status=status,
            error_type=error_type,
            ttfb=result.first_byte_at,
            served=tap.model,
            failure=result.failure,
        )

    async def _finish(
        self,
        gw: Gateway,
        admission: Admission,
        fw: Forwarded,
        record: Any,
        metered: Metered | None,
        *,
        started: float,
        status: str,
        error_type: str | None,
        ttfb: float | None,
        served: str | None,
        failure: UpstreamFailure | None,
    ) -> None:
        now = time.monotonic()
        final = replace(
            record,
            status=status,
            error_type=error_type,
            account_id=fw.selection.account_id,
            model_served=served or fw.selection.upstream_model,
            attempts=fw.attempts,
            latency_ms=_ms(now - started),
            ttfb_ms=_ms(ttfb - started) if ttfb is not None else None,
        )
        metrics.observe_request(
            self.protocol.value,
            admission.model,
            status,
            error_type or "",
            latency=now - started,
            ttfb=ttfb - started if ttfb is not None else None,
        )
        if failure is not None:
            metrics.observe_upstream_error(failure.type.value, fw.selection.account_name)
        cost = await gw.settler.settle(admission, final, metered)
        usage = metered.usage if metered is not None else None
        if metered is not None and metered.anomalies:
            gw.scheduler.state.alert_usage_anomaly(
                fw.selection.account_id,
                request_id=admission.request_id,
                model=final.model_served or admission.model,
                anomalies=metered.anomalies,
            )
        if admission.lease is not None:
            admission.lease.finish(usage.total_tokens if usage is not None else 0)
        if failure is not None:
            gw.scheduler.report(fw.selection, failure)
        else:
            gw.scheduler.report(
                fw.selection,
                Succeeded(
                    latency_ms=(now - fw.sent_at) * 1000,
                    ttfb_ms=(fw.headers_at - fw.sent_at) * 1000,
                    input_tokens=(
                        usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
                    )
                    if usage
                    else 0,
                    output_tokens=usage.output_tokens if usage else 0,
                    cost_micros=cost,
                ),
            )
        gw.scheduler.release(fw.selection)


class CountTokensEndpoint:
    """POST /v1/messages/count_tokens: free; the key, its scope and the model's access are
    checked, then the request goes to an Anthropic account (failover as usual)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = request_id_of(scope)
        gw = current()
        if gw is None or not gw.accepting:
            await refusals.send_refusal(
                send,
                ShuttingDownError("This server is not accepting requests; retry in a moment."),
                anthropic=True,
                request_id=rid,
            )
            return
        gw.enter()
        try:
            await self._handle(gw, scope, receive, send, rid)
        finally:
            gw.leave()

    async def _handle(
        self, gw: Gateway, scope: Scope, receive: Receive, send: Send, rid: str
    ) -> None:
        protocol = WireProtocol.ANTHROPIC_MESSAGES
        try:
            entry = await authenticate(gw.keys, scope["headers"], _client_ip(scope))
            body, decompressed = await read_body(scope, receive, gw.settings.gateway_max_body_bytes)
            info = inspect_request(protocol, body)
            if not info.model:
                raise ModelMissingError("The request names no model; set the 'model' field.")
            decision = await models_list.decide_for(gw, entry, info.model)
            if not decision.allowed and decision.reason_code in models_list.ACCESS_REASONS:
                assert decision.error is not None
                raise decision.error
            forwarded = await forward(
                scheduler=gw.scheduler,
                client=gw.client,
                protocol=protocol,
                path="/v1/messages/count_tokens",
                query=scope.get("query_string", b"").decode("latin-1"),
                headers=_header_pairs(scope),
                body=body,
                body_decompressed=decompressed,
                info=replace(info, stream=False),
                model=info.model,
                group_id=entry.group_id,
                timeouts=gw.timeouts,
                max_attempts=gw.settings.gateway_max_attempts,
                attempts=Attempts(),
                long_context=True,  # counting tokens is free
                translate=False,  # no other protocol counts tokens the Anthropic way
            )
        except UpstreamFailure as failure:
            if failure.status is not None and failure.body:
                await refusals.send_upstream_error(send, failure, request_id=rid)
            else:
                await refusals.send_refusal(send, failure, anthropic=True, request_id=rid)
            return
        except SpectraError as exc:
            await refusals.send_refusal(send, exc, anthropic=True, request_id=rid)
            return
        resp = forwarded.response
        try:
            raw = await resp.read()
            resp.release()
        finally:
            gw.scheduler.release(forwarded.selection)
        await send(
            {
                "type": "http.response.start",
                "status": resp.status,
                "headers": response_headers(resp, rid),
            }
        )
        await send({"type": "http.response.body", "body": raw, "more_body": False})


class ModelsEndpoint:
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = request_id_of(scope)
        anthropic = _header(scope, b"anthropic-version") is not None
        gw = current()
        try:
            if gw is None:
                raise GatewayNotReadyError("The gateway is not running in this process.")
            entry = await authenticate(gw.keys, scope["headers"], _client_ip(scope))
            models = await models_list.usable_models(gw, entry)
        except SpectraError as exc:
            await refusals.send_refusal(send, exc, anthropic=anthropic, request_id=rid)
            return
        body = models_list.render(models, anthropic=anthropic)
        await refusals.send_json(send, 200, body, request_id=rid)


class ResponsesSocketEndpoint:
    """GET /v1/responses (a WebSocket upgrade from Codex's built-in provider): refused at once
    with 426, so the client falls back to HTTP without retrying."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = request_id_of(scope)
        error = WebSocketNotSupportedError(
            "Spectra serves the Responses API over HTTP only; use POST /v1/responses."
        )
        body = refusals.refusal_body(
            anthropic=False,
            kind=error.kind,
            code=error.code,
            message=error.message,
            request_id=rid,
        )
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            extensions = scope.get("extensions") or {}
            if "websocket.http.response" in extensions:
                await refusals.send_json(
                    send,
                    426,
                    body,
                    request_id=rid,
                    prefix="websocket.",
                    extra=[(b"upgrade", b"websocket")],
                )
            else:
                await send({"type": "websocket.close", "code": 1008, "reason": error.message[:120]})
            return
        await refusals.send_json(
            send, 426, body, request_id=rid, extra=[(b"upgrade", b"websocket")]
        )


def _ms(seconds: float) -> int:
    return max(int(seconds * 1000), 0)
