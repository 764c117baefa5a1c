"""The generation pipeline: POST /v1/chat/completions, /v1/responses and /v1/messages.

Per request: key -> body -> access decision, price, rate limits, hold -> account, forward,
failover before the first byte -> relay with usage tap -> settle (see settlement.py). The
request's state travels in one `Exchange`; its `close` (called once, in `__call__`'s
`finally`) gives back whatever the request still holds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import replace

from starlette.types import Receive, Scope, Send

from spectra.errors import RefusedError, SpectraError
from spectra.ledger.errors import HoldStoreUnavailableError
from spectra.pool.errors import ModelNotServedError, NoAccountAvailableError
from spectra.providers import RequestInfo, inspect_request
from spectra.providers.errors import UpstreamFailure
from spectra.providers.translate import (
    TranslationRefusedError,
    UnreadableBodyError,
)
from spectra.providers.types import WireProtocol
from spectra.usage.clients import client_family_of

from . import fallbacks, metrics, refusals
from .admission import Admission, AdmissionRefused, admit
from .auth import authenticate
from .body import client_ip, header, header_pairs, read_body, request_id_of
from .errors import GatewayNotReadyError, ModelMissingError, ShuttingDownError
from .exchange import Exchange
from .finish import ms
from .relay import relay_body_answer, relay_stream_answer
from .selection import Attempts, Forwarded, forward
from .settlement import base_record
from .wiring import Gateway, current

log = logging.getLogger(__name__)

# What `forward` raises when no attempt answered: recorded, then told to the caller.
_NOT_FORWARDED = (
    UpstreamFailure,
    RefusedError,  # the hold at the served model's price does not fit (fallbacks.hold_served)
    HoldStoreUnavailableError,
    NoAccountAvailableError,
    ModelNotServedError,
    TranslationRefusedError,
    UnreadableBodyError,
)


class GenerationEndpoint:
    """POST endpoints that generate (and cost money): chat, responses, messages."""

    def __init__(self, protocol: WireProtocol, path: str) -> None:
        self.protocol = protocol
        self.path = path
        self.anthropic = protocol is WireProtocol.ANTHROPIC_MESSAGES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = request_id_of(scope)
        gw = current()
        if gw is None or not gw.accepting:
            error: SpectraError = (
                GatewayNotReadyError("The gateway is not running in this process.")
                if gw is None
                else ShuttingDownError("This server is shutting down; retry in a moment.")
            )
            await refusals.send_refusal(send, error, anthropic=self.anthropic, request_id=rid)
            return
        gw.enter()
        try:
            ex = await self._open(gw, scope, receive, send, rid)
            if ex is not None:
                try:
                    await run(ex)
                finally:
                    if ex.holding:
                        await ex.close()
        finally:
            gw.leave()

    def inspect(self, scope: Scope, body: bytes) -> RequestInfo:
        """What the body asks for (Gemini's endpoints add the model and stream of the URL)."""
        return inspect_request(self.protocol, body)

    async def _open(
        self, gw: Gateway, scope: Scope, receive: Receive, send: Send, rid: str
    ) -> Exchange | None:
        """The key, the body and what it asks for, as an `Exchange`; None once refused."""
        try:
            entry = await authenticate(gw.keys, scope["headers"], client_ip(scope))
            body, decompressed = await read_body(scope, receive, gw.settings.gateway_max_body_bytes)
            info = self.inspect(scope, body)
            if not info.model:
                raise ModelMissingError("The request names no model; set the 'model' field.")
        except SpectraError as exc:
            metrics.observe_request(self.protocol.value, "", "refused", exc.code)
            if gw.access is not None:
                gw.access.refused(
                    request_id=rid,
                    protocol=self.protocol.value,
                    code=exc.code,
                    http_status=refusals.status_of(exc),
                )
            await refusals.send_refusal(send, exc, anthropic=self.anthropic, request_id=rid)
            return None
        headers = header_pairs(scope)
        # Positional: a keyword call of this many fields costs microseconds on the hot path.
        return Exchange(
            gw,
            self.protocol,
            self.path,
            scope,
            receive,
            send,
            rid,
            entry,
            info,
            body,
            decompressed,
            headers,
            client_family_of(headers),
        )


async def run(ex: Exchange) -> None:
    """Admit, forward, relay and settle one request (cleanup is the caller's `ex.close`)."""
    if not await _admit(ex):
        return
    if not await _forward(ex):
        return
    if ex.info.stream:
        await relay_stream_answer(ex)
    else:
        await relay_body_answer(ex)


async def _admit(ex: Exchange) -> bool:
    gw, entry = ex.gw, ex.entry
    try:
        ex.admission = await admit(
            request_id=ex.request_id,
            entry=entry,
            info=ex.info,
            model=ex.model,
            cache=gw.policy,
            view=gw.view,
            prices=gw.prices,
            limiter=gw.limiter,
            settings=gw.workspace,
            key_limits=gw.key_limits(str(entry.key_id)),
            user_limits=gw.user_limits(str(entry.user_id)),
            client=ex.client_family,
            backlog=gw.committer,
            backlog_wait=gw.settings.commit_backlog_wait,
            project=header(ex.scope, b"x-spectra-project"),
        )
    except AdmissionRefused as refused:
        metrics.observe_request(ex.protocol.value, ex.model, "refused", refused.error.code)
        record = base_record(
            request_id=ex.request_id,
            protocol=ex.protocol.value,
            model=ex.model,
            admission=None,
            client_family=ex.client_family,
            user_id=entry.user_id,
            key_id=entry.key_id,
            group_id=entry.group_id,
            streamed=ex.info.stream,
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
            ex.send, refused.error, anthropic=ex.anthropic, request_id=ex.request_id
        )
        return False
    # The admission's entry is the key's, and its start time the record's.
    ex.record = base_record(
        request_id=ex.request_id,
        protocol=ex.protocol.value,
        model=ex.model,
        admission=ex.admission,
        client_family=ex.client_family,
        streamed=ex.info.stream,
    )
    return True


async def _forward(ex: Exchange) -> bool:
    """Send to an account (failover inside `forward`); on a fallback trigger, try the model's
    fallback chain. False once the caller has been told no attempt answered."""
    admission = ex.admission
    assert admission is not None
    ex.started = time.monotonic()
    chain: Iterator[str] | None = None
    notes: list[str] = []
    while True:
        ex.attempts = Attempts()
        try:
            ex.forwarded = await _send(ex, admission)
        except _NOT_FORWARDED as exc:
            ex.tries += ex.attempts.count
            reason = fallbacks.trigger_of(exc)
            if reason is not None:
                if chain is None:
                    chain = fallbacks.chain_of(ex)
                    ex.fallback_reason = reason
                if await fallbacks.next_model(ex, chain, notes):
                    ex.fallback_trace = "; ".join(notes)
                    continue
            ex.fallback_trace = "; ".join(notes) or None
            told: SpectraError = exc
            if ex.fallback_trace is not None:
                told = fallbacks.exhausted(exc, ex.model, ex.fallback_trace)
            await _not_forwarded(ex, told)
            return False
        ex.tries += ex.attempts.count
        return True


async def _send(ex: Exchange, admission: Admission) -> Forwarded:
    gw = ex.gw
    assert ex.attempts is not None
    return await forward(
        scheduler=gw.scheduler,
        client=gw.client,
        protocol=ex.protocol,
        path=ex.path,
        query=ex.scope.get("query_string", b"").decode("latin-1"),
        headers=ex.headers,
        body=ex.body,
        body_decompressed=ex.decompressed,
        info=ex.info,
        model=admission.model,
        group_id=admission.entry.group_id,
        timeouts=gw.timeouts,
        max_attempts=gw.settings.gateway_max_attempts,
        attempts=ex.attempts,
        # A 1M-context beta only where long prompts are priced as the upstream bills them.
        long_context=bool(admission.price.tiers),
        before_send=lambda selection: fallbacks.hold_served(ex, selection),
    )


async def _not_forwarded(ex: Exchange, exc: SpectraError) -> None:
    """Record and answer a request no attempt answered (the hold goes back in `ex.close`)."""
    admission, record = ex.admission, ex.record
    assert admission is not None
    assert record is not None
    failure = exc if isinstance(exc, UpstreamFailure) else None
    latency = time.monotonic() - ex.started
    metrics.observe_request(
        ex.protocol.value,
        admission.model,
        "error" if failure is not None else "refused",
        failure.type.value if failure is not None else exc.code,
        latency=latency,
    )
    ex.gw.settler.record(
        replace(
            record,
            status="error" if failure is not None else "refused",
            error_type=failure.type.value if failure is not None else None,
            refusal_reason=None if failure is not None else exc.code,
            refusal_rule=None
            if failure is not None
            else "hold"
            if isinstance(exc, RefusedError | HoldStoreUnavailableError)
            else "pool",
            refusal_message=None if failure is not None else exc.message[:500],
            attempts=max(ex.tries, 1),
            latency_ms=ms(latency),
            fallback_reason=ex.fallback_reason,
            fallback_trace=ex.fallback_trace[:500] if ex.fallback_trace else None,
        )
    )
    if failure is not None and failure.status is not None and failure.body:
        await refusals.send_upstream_error(ex.send, failure, request_id=ex.request_id)
    else:
        await refusals.send_refusal(ex.send, exc, anthropic=ex.anthropic, request_id=ex.request_id)
