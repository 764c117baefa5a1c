"""The end of an answered request: the record completed (account, model and protocol served,
timings, fallback), the settlement at the served model's price, and the pool told how the
account did."""

from __future__ import annotations

import time
from dataclasses import replace

from spectra.pool.scheduler import Succeeded
from spectra.providers.errors import UpstreamFailure
from spectra.providers.metering import Metered
from spectra.providers.types import Usage
from spectra.usage.schemas import UsageRecordCreate

from . import metrics
from .exchange import Exchange
from .fallbacks import served_price


async def finish(
    ex: Exchange,
    metered: Metered | None,
    *,
    status: str,
    error_type: str | None,
    served: str | None,
    failure: UpstreamFailure | None,
    http_status: int | None = None,
) -> None:
    """Settle the answered request and tell the pool how the account did. `http_status` is
    what the caller was answered (for the access log)."""
    gw, admission, fw, record = ex.gw, ex.admission, ex.forwarded, ex.record
    assert admission is not None
    assert fw is not None
    assert record is not None
    now = time.monotonic()
    started, ttfb = ex.started, ex.first_byte_at
    final = replace(
        record,
        status=status,
        error_type=error_type,
        account_id=fw.selection.account_id,
        model_served=served or fw.selection.upstream_model,
        protocol_served=fw.selection.upstream_protocol or ex.protocol.value,
        attempts=max(ex.tries, 1),
        fallback_reason=ex.fallback_reason,
        fallback_trace=ex.fallback_trace[:500] if ex.fallback_trace else None,
        latency_ms=ms(now - started),
        ttfb_ms=ms(ttfb - started) if ttfb is not None else None,
    )
    ex.record = final
    metrics.observe_request(
        ex.protocol.value,
        admission.model,
        status,
        error_type or "",
        latency=now - started,
        ttfb=ttfb - started if ttfb is not None else None,
    )
    if failure is not None:
        metrics.observe_upstream_error(failure.type.value, fw.selection.account_name)
    admission.price = served_price(gw, admission, fw.selection)
    cost = await gw.settler.settle(admission, final, metered, http_status)
    usage = metered.usage if metered is not None else None
    if gw.tracing is not None:
        _trace(ex, final, usage, cost, relayed_at=now)
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


def _trace(
    ex: Exchange, record: UsageRecordCreate, usage: Usage | None, cost: int, *, relayed_at: float
) -> None:
    gw, fw = ex.gw, ex.forwarded
    assert gw.tracing is not None
    assert fw is not None
    if usage is not None:
        record = replace(
            record,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
        )
    gw.tracing.answered(
        replace(record, cost_micros=cost),
        admitted_at=ex.started,
        sent_at=fw.sent_at,
        first_byte_at=ex.first_byte_at,
        relayed_at=relayed_at,
        settled_at=time.monotonic(),
    )


def ms(seconds: float) -> int:
    return max(int(seconds * 1000), 0)
