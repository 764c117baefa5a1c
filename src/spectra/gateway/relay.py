"""Relay a forwarded answer to the caller and settle it: a whole body (read, metered,
translated when the caller speaks another protocol) or a stream (relayed through the usage
tap, settled before its last byte). Called once per request by `generation.run`."""

from __future__ import annotations

from spectra.providers import read_response_body
from spectra.providers.errors import UpstreamFailure
from spectra.providers.metering import Metered, estimate_tokens_from_chars, meter
from spectra.providers.translate import SSEStreamTranslator, UnreadableAnswerError

from . import refusals
from .exchange import Exchange
from .finish import finish
from .streaming import RelayResult, decode_body, relay_stream, response_headers
from .translation import body_headers_dropped, translated_answer


def fallback_headers(ex: Exchange) -> list[tuple[bytes, bytes]]:
    """`x-spectra-fallback` on an answer a fallback model gave: the models tried or skipped."""
    if ex.fallback_reason is None or ex.fallback_trace is None:
        return []
    text = f"{ex.fallback_reason}: {ex.fallback_trace}"[:500]
    return [(b"x-spectra-fallback", text.encode("latin-1", "replace"))]


async def relay_body_answer(ex: Exchange) -> None:
    fw, admission = ex.forwarded, ex.admission
    assert fw is not None
    assert admission is not None
    resp = fw.response
    failure: UpstreamFailure | None = None
    try:
        raw = await resp.read()
    except UpstreamFailure as exc:
        failure = exc
        raw = b""
    ctx = fw.translation
    decoded = decode_body(raw, resp.headers.get("content-encoding"))
    usage, served, chars = read_response_body(ex.upstream_protocol, decoded)
    # An answer without (sane) usage is billed on the estimate, as a stream would be.
    metered = (
        meter(
            usage,
            input_estimate=ex.info.input_tokens_estimate,
            output_estimate=estimate_tokens_from_chars(chars),
            window=admission.window,
        )
        if failure is None
        else None
    )
    headers = response_headers(resp, ex.request_id)
    headers.extend(fallback_headers(ex))
    unreadable: UnreadableAnswerError | None = None
    if ctx is not None and failure is None:
        try:
            raw = translated_answer(decoded, ctx)
            headers = body_headers_dropped(headers)
        except UnreadableAnswerError as exc:
            unreadable, metered = exc, None
    if failure is None:
        resp.release()
    send = ex.send
    ex.first_byte_at = fw.headers_at
    if failure is not None:
        error_type: str | None = failure.type.value
    else:
        error_type = unreadable.code if unreadable is not None else None
    if unreadable is not None:
        await refusals.send_refusal(
            send, unreadable, anthropic=ex.anthropic, request_id=ex.request_id
        )
    elif failure is None:
        await send({"type": "http.response.start", "status": resp.status, "headers": headers})
        # Settled (and journaled) before the body goes out: an answer the client received
        # whole is never lost to a crash (gateway/journal.py).
        await finish(
            ex,
            metered,
            status="ok",
            error_type=None,
            served=served,
            failure=None,
            http_status=resp.status,
        )
        await send({"type": "http.response.body", "body": raw, "more_body": False})
        return
    else:
        await refusals.send_upstream_error(send, failure, request_id=ex.request_id)
    await finish(
        ex,
        metered,
        status="ok" if error_type is None else "error",
        error_type=error_type,
        served=served,
        failure=failure,
        http_status=refusals.status_of(unreadable)
        if unreadable is not None
        else (failure.status or 502)
        if failure is not None
        else None,
    )


async def relay_stream_answer(ex: Exchange) -> None:
    fw, admission = ex.forwarded, ex.admission
    assert fw is not None
    assert admission is not None
    settled = False

    async def settle(result: RelayResult) -> None:
        nonlocal settled
        settled = True
        await _finish_stream(ex, result)

    result = await relay_stream(
        fw.response,
        protocol=ex.upstream_protocol,
        withhold_usage=fw.injected_usage,
        request_id=ex.request_id,
        translator=None if fw.translation is None else SSEStreamTranslator(fw.translation),
        receive=ex.receive,
        send=ex.send,
        extra_headers=fallback_headers(ex),
        frames=fw.frames,
        # Settled (and journaled) before the stream's last byte: a stream the client received
        # whole is never lost to a crash (gateway/journal.py).
        before_end=settle,
    )
    if not settled:  # the client went away: no last byte to send
        await _finish_stream(ex, result)


async def _finish_stream(ex: Exchange, result: RelayResult) -> None:
    admission = ex.admission
    assert admission is not None
    tap = result.tap
    ex.first_byte_at = result.first_byte_at
    complete = tap.finished and result.failure is None and not result.client_gone
    # Partial: billed for what the upstream reported or, failing that, the estimate;
    # nothing generated means nothing billed.
    metered: Metered | None = (
        tap.metered(input_tokens_estimate=ex.info.input_tokens_estimate, window=admission.window)
        if complete or tap.saw_output
        else None
    )
    if complete:
        status, error_type = "ok", None
    else:
        status = "partial"
        if result.client_gone:
            error_type = "client_disconnected"
        elif result.failure is not None:
            error_type = result.failure.type.value
        else:
            error_type = "stream_broken"
    await finish(
        ex,
        metered,
        status=status,
        error_type=error_type,
        served=tap.model,
        failure=result.failure,
        http_status=ex.forwarded.response.status if ex.forwarded is not None else None,
    )
