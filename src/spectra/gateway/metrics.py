"""The gateway's Prometheus metrics, recorded on the hot path. Label children are bound once
and kept in a dict, so recording a request is two dict lookups and a few float additions.

Clients choose the model name, so model labels are capped: after `MAX_MODELS` distinct names,
new ones count as "other" (a flood of invented names cannot blow up the registry).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)
MAX_MODELS = 200

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600)
_TTFB_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)

REQUESTS = Counter(
    "spectra_gateway_requests",
    "Gateway requests by protocol, model, outcome status and refusal reason.",
    ("protocol", "model", "status", "reason"),
    registry=REGISTRY,
)
LATENCY = Histogram(
    "spectra_gateway_request_duration_seconds",
    "Time from admission to the end of the response (streams included).",
    ("protocol",),
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
TTFB = Histogram(
    "spectra_gateway_time_to_first_byte_seconds",
    "Time from admission to the upstream's first byte.",
    ("protocol",),
    buckets=_TTFB_BUCKETS,
    registry=REGISTRY,
)
UPSTREAM_ERRORS = Counter(
    "spectra_upstream_errors",
    "Upstream failures by type and pool account (each attempt, failovers included).",
    ("type", "account"),
    registry=REGISTRY,
)

_children: dict[tuple[str, ...], Any] = {}
_models: set[str] = set()


def _model_label(model: str) -> str:
    if model in _models:
        return model
    if len(_models) < MAX_MODELS:
        _models.add(model)
        return model
    return "other"


def _child(metric: Any, *labels: str) -> Any:
    key = (metric._name, *labels)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*labels)
    return child


def observe_request(
    protocol: str,
    model: str,
    status: str,
    reason: str = "",
    *,
    latency: float | None = None,
    ttfb: float | None = None,
) -> None:
    """Count one finished or refused request (and its timings, when it reached an upstream)."""
    _child(REQUESTS, protocol, _model_label(model or ""), status, reason).inc()
    if latency is not None:
        _child(LATENCY, protocol).observe(latency)
    if ttfb is not None:
        _child(TTFB, protocol).observe(ttfb)


def observe_upstream_error(error_type: str, account: str) -> None:
    _child(UPSTREAM_ERRORS, error_type, account).inc()
