"""OpenTelemetry traces of gateway requests: opt-in (`SPECTRA_OTEL=1`), nothing when off.

When on, each generation request that reaches admission gives one `gateway.request` span with
the model, account, outcome and token attributes, and child spans `gateway.admission` (the
access decision, price, limits and hold), `gateway.upstream` (from the send to the last byte
relayed; the time to first byte is an attribute and an event) and `gateway.settle`. The spans are
written once the request is settled, from the timestamps the pipeline already keeps, so the
request path itself creates no span object and the pipeline has no tracing calls at all.

When off, `Gateway.tracing` is None and nothing here is imported: no tracer, no provider, no
span. The exporter is OTLP over HTTP, configured by the standard `OTEL_EXPORTER_OTLP_*` and
`OTEL_SERVICE_NAME` variables; it needs the `otel` extra (`pip install 'spectra[otel]'`).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from spectra.usage.schemas import UsageRecordCreate

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span, Tracer


def exporter() -> SpanExporter:
    """The span exporter (OTLP/HTTP); tests put an in-memory one here."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


class Tracing:
    """The tracer and its provider; built only when `SPECTRA_OTEL` is on."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.tracer: Tracer = provider.get_tracer("spectra.gateway")

    @classmethod
    def start(cls) -> Tracing:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider = TracerProvider(resource=Resource.create({"service.name": "spectra"}))
        provider.add_span_processor(BatchSpanProcessor(exporter()))
        return cls(provider)

    def shutdown(self) -> None:
        self.provider.shutdown()

    def answered(
        self,
        record: UsageRecordCreate,
        *,
        admitted_at: float,
        sent_at: float,
        first_byte_at: float | None,
        relayed_at: float,
        settled_at: float,
    ) -> None:
        """The spans of a settled request; times are `time.monotonic()` readings except the
        record's `started_at` (when admission began)."""
        from opentelemetry.trace import set_span_in_context

        to_ns = _clock()
        start = _wall_ns(record.started_at, to_ns(admitted_at))
        root = self.tracer.start_span("gateway.request", start_time=start)
        _describe(root, record)
        ctx = set_span_in_context(root)
        self.tracer.start_span("gateway.admission", context=ctx, start_time=start).end(
            end_time=to_ns(admitted_at)
        )
        upstream = self.tracer.start_span(
            "gateway.upstream", context=ctx, start_time=to_ns(sent_at)
        )
        if record.account_id is not None:
            upstream.set_attribute("spectra.account", str(record.account_id))
        if first_byte_at is not None:
            upstream.set_attribute("spectra.ttfb_ms", record.ttfb_ms or 0)
            upstream.add_event("first_byte", timestamp=to_ns(first_byte_at))
        upstream.end(end_time=to_ns(relayed_at))
        self.tracer.start_span("gateway.settle", context=ctx, start_time=to_ns(relayed_at)).end(
            end_time=to_ns(settled_at)
        )
        root.end(end_time=to_ns(settled_at))

    def recorded(self, record: UsageRecordCreate) -> None:
        """The span of a request refused or failed after admission began (no answer relayed)."""
        now = time.time_ns()
        span = self.tracer.start_span(
            "gateway.request", start_time=_wall_ns(record.started_at, now)
        )
        _describe(span, record)
        span.end(end_time=now)


def _clock() -> Any:
    offset = time.time_ns() - time.monotonic_ns()
    return lambda mono: int(mono * 1e9) + offset


def _wall_ns(at: datetime | None, fallback: int) -> int:
    return int(at.timestamp() * 1e9) if at is not None else fallback


def _describe(span: Span, record: UsageRecordCreate) -> None:
    from opentelemetry.trace import Status, StatusCode

    attributes: dict[str, str | int | bool] = {
        "spectra.request_id": record.request_id,
        "spectra.protocol": record.protocol,
        "spectra.model": record.model_requested,
        "spectra.status": record.status,
        "spectra.stream": record.is_streamed,
        "spectra.input_tokens": record.input_tokens,
        "spectra.output_tokens": record.output_tokens,
        "spectra.cache_read_tokens": record.cache_read_tokens,
        "spectra.cache_write_tokens": record.cache_write_tokens,
        "spectra.cost_micros": record.cost_micros,
        "spectra.attempts": record.attempts,
    }
    if record.model_served is not None:
        attributes["spectra.model_served"] = record.model_served
    if record.account_id is not None:
        attributes["spectra.account"] = str(record.account_id)
    code = record.refusal_reason or record.error_type
    if code is not None:
        attributes["spectra.code"] = code
    span.set_attributes(attributes)
    if record.status == "error":
        span.set_status(Status(StatusCode.ERROR, code))
