"""`GET /metrics` in Prometheus format: the gateway's hot-path counters and histograms
(gateway/metrics.py) plus gauges read at scrape time from the running process: pool account
states, open holds, the settlement queue (depth, lag, Redis replay backlog) and the rollup
cursor's lag. Scrape-time gauges cost nothing between scrapes.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from spectra.gateway import metrics as gateway_metrics
from spectra.kit.clock import utc_now
from spectra.pool.states import AccountState

if TYPE_CHECKING:
    from spectra.runtime import Runtime

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


async def render(runtime: Runtime) -> bytes:
    """The exposition text for this process."""
    registry = CollectorRegistry(auto_describe=True)
    _pool(registry)
    await _holds(registry)
    _settlement(registry, runtime)
    await _rollups(registry, runtime)
    return generate_latest(gateway_metrics.REGISTRY) + generate_latest(registry)


def _pool(registry: CollectorRegistry) -> None:
    from spectra.pool import wiring as pool_wiring

    gauge = Gauge("spectra_pool_accounts", "Pool accounts by state.", ("state",), registry=registry)
    counts = {state.value: 0 for state in AccountState}
    try:
        accounts = pool_wiring.scheduler().state.accounts.values()
    except Exception:
        accounts = []  # type: ignore[assignment]
    for account in accounts:
        counts[account.snapshot.state.value] = counts.get(account.snapshot.state.value, 0) + 1
    for state, count in counts.items():
        gauge.labels(state).set(count)


async def _holds(registry: CollectorRegistry) -> None:
    from spectra.errors import SpectraError
    from spectra.ledger import wiring as ledger_wiring

    holds = Gauge(
        "spectra_open_holds", "Open gateway holds (all processes with Redis).", registry=registry
    )
    up = Gauge(
        "spectra_hold_store_up",
        "1 when the hold store answers (always 1 in process).",
        registry=registry,
    )
    backlog = Gauge(
        "spectra_hold_store_replay_backlog",
        "Hold operations an outage left to replay against Redis (this process).",
        registry=registry,
    )
    try:
        view = ledger_wiring.balance_view()
    except RuntimeError:
        return
    try:
        holds.set(await view.count_open_holds())
        up.set(1)
    except SpectraError:
        up.set(0)
    backlog.set(getattr(view, "backlog", 0))


def _settlement(registry: CollectorRegistry, runtime: Runtime) -> None:
    depth = Gauge(
        "spectra_settlement_queue_depth",
        "Settlements waiting for the group committer.",
        registry=registry,
    )
    lag = Gauge(
        "spectra_settlement_lag_seconds",
        "Queue time of the oldest item in the last committed batch.",
        registry=registry,
    )
    depth.set(runtime.committer.depth)
    lag.set(runtime.committer.last_lag)


async def _rollups(registry: CollectorRegistry, runtime: Runtime) -> None:
    from spectra.db.session import read_scope
    from spectra.usage import rollups

    lag = Gauge(
        "spectra_rollup_cursor_lag_seconds",
        "Age of the last usage record the rollups counted (0 when none is pending).",
        registry=registry,
    )
    pending = Gauge(
        "spectra_rollup_pending_records",
        "Usage records the rollups have not counted yet.",
        registry=registry,
    )
    try:
        async with read_scope(runtime.db) as session:
            at, _ = await rollups.cursor_position(session)
            waiting = await rollups.pending_records(session)
    except Exception:
        log.exception("reading the rollup cursor for /metrics failed")
        return
    pending.set(waiting)
    lag.set((utc_now() - at).total_seconds() if at is not None and waiting else 0)
