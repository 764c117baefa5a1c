"""Background work of the pool: scheduled probes and persisting the in-memory figures.

Both run through the `JobScheduler` (one process at a time holds each job's lease).
"""

from __future__ import annotations

import logging
import math
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from spectra.db.session import Database, read_scope, session_scope
from spectra.kit.clock import utc_now
from spectra.providers.client import UpstreamClient

from . import repository
from . import service as pool_service
from .credentials import unseal
from .probes import ProbeOutcome, probe
from .state import PoolState

log = logging.getLogger(__name__)

PROBE_IDLE_AFTER = timedelta(minutes=30)
PROBE_RETRY_EVERY = timedelta(seconds=30)


async def run_probes(
    db: Database,
    state: PoolState,
    client: UpstreamClient,
    *,
    idle_after: timedelta = PROBE_IDLE_AFTER,
    retry_every: timedelta = PROBE_RETRY_EVERY,
) -> dict[uuid.UUID, ProbeOutcome]:
    """Probe every account that is due (see `service.due_for_probe`); record each outcome."""
    live = {
        aid: rt.figures.last_used_at
        for aid, rt in state.accounts.items()
        if rt.figures.last_used_at
    }
    async with read_scope(db) as session:
        due = await pool_service.due_for_probe(
            session, idle_after=idle_after, retry_every=retry_every, live=live
        )
        targets = [
            (
                a.id,
                a.provider,
                a.base_url,
                list(a.models),
                a.credential_key_version,
                a.credential_ciphertext,
                dict(a.settings or {}),
            )
            for a in due
        ]
    results: dict[uuid.UUID, ProbeOutcome] = {}
    for account_id, provider, base_url, models, version, ciphertext, settings in targets:
        credential = unseal(state.keys.credentials_key(version), account_id, ciphertext)
        outcome = await probe(
            client,
            provider=provider,
            base_url=base_url,
            credential=credential,
            models=models,
            settings=settings,
        )
        results[account_id] = outcome
        async with session_scope(db) as session:
            await pool_service.record_probe(session, account_id=account_id, outcome=outcome)
        # The row decided the transition (one history entry); memory takes it at once.
        await state.refresh(db, [account_id])
        log.info(
            "probe of pool account %s: %s in %.0f ms", account_id, outcome.label, outcome.latency_ms
        )
    return results


BIGINT_MAX = 2**63 - 1


def _column_safe(value: Any) -> Any:
    """A figure as a BIGINT/FLOAT column takes it: integers clamped to the column's range,
    non-finite floats dropped. Usage is clamped at settlement already; this keeps one bad
    figure from failing the job for every account."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return max(0, min(value, BIGINT_MAX))
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


async def persist_figures(db: Database, state: PoolState) -> int:
    """Write today's in-memory figures of every account (one row per account and UTC day).

    Each account's row is written in its own savepoint: one that cannot be written is logged
    and skipped, and the others commit."""
    now = utc_now()
    rows: list[tuple[uuid.UUID, dict[str, Any]]] = []
    for account_id, runtime in state.accounts.items():
        figures = runtime.figures
        figures.roll(now)
        if figures.requests_today == 0 and figures.cost_today_micros == 0:
            continue
        values = {
            "requests": figures.requests_today,
            "successes": figures.successes_today,
            "failures": figures.failures_today,
            "input_tokens": figures.input_tokens_today,
            "output_tokens": figures.output_tokens_today,
            "cost_micros": figures.cost_today_micros,
            "latency_p50_ms": figures.latency_p50_ms,
            "latency_p95_ms": figures.latency_p95_ms,
        }
        rows.append((account_id, {k: _column_safe(v) for k, v in values.items()}))
    if not rows:
        return 0
    written = 0
    async with session_scope(db) as session:
        known = {a.id for a in await repository.get_accounts(session, [aid for aid, _ in rows])}
        for account_id, values in rows:
            if account_id not in known:
                continue
            try:
                async with session.begin_nested():
                    await repository.upsert_daily_figures(
                        session, account_id=account_id, day=now.date(), values=values
                    )
            except (SQLAlchemyError, OverflowError, ValueError):
                log.exception("figures of pool account %s not written", account_id)
                continue
            written += 1
    return written
