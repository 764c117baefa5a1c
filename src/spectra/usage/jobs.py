"""Background jobs: roll usage up, and drop request-level records past their retention."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_

from spectra.db.session import Database, session_scope
from spectra.kit.clock import utc_now
from spectra.usage import rollups
from spectra.usage.models import UsageRecord
from spectra.workspace import service as workspace_service

ROLLUP_JOB = "usage.rollups"
RETENTION_JOB = "usage.retention"
_MAX_BATCHES = 100


async def run_rollups(db: Database, *, lag: timedelta = rollups.DEFAULT_LAG) -> int:
    """Roll up everything pending, one transaction per batch; returns records counted."""
    total = 0
    for _ in range(_MAX_BATCHES):
        async with session_scope(db) as session:
            done = await rollups.roll_up(session, lag=lag)
        total += done
        if done < rollups.DEFAULT_BATCH:
            break
    return total


async def purge_expired(db: Database, *, now: datetime | None = None) -> int:
    """Delete request-level records older than `usage_retention_days` that the rollups have
    already counted (aggregates are kept for good). Returns how many were deleted."""
    async with session_scope(db) as session:
        settings = await workspace_service.get_settings(session)
        cutoff = (now or utc_now()) - timedelta(days=settings.usage_retention_days)
        at, last = await rollups.cursor_position(session)
        if at is None:
            return 0
        counted = or_(
            UsageRecord.created_at < at, and_(UsageRecord.created_at == at, UsageRecord.id <= last)
        )
        result = await session.execute(
            delete(UsageRecord).where(UsageRecord.created_at < cutoff, counted)
        )
        return int(getattr(result, "rowcount", 0) or 0)
