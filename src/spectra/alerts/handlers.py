"""Unit-of-work handlers: budget thresholds are checked on each settlement batch, in its
transaction (so the alert and its outbox rows commit with the spend that caused them)."""

from __future__ import annotations

import logging

from spectra.alerts.detect import Touched, check_budgets
from spectra.db import events
from spectra.db.session import Session
from spectra.kit.clock import utc_now
from spectra.usage.events import UsageBatchRecorded
from spectra.workspace.cache import settings_cache

log = logging.getLogger(__name__)


def touched_by(event: UsageBatchRecorded) -> Touched:
    charged = [r for r in event.records if r.cost_micros > 0]
    return Touched(
        group_ids=frozenset(r.group_id for r in charged if r.group_id is not None),
        members=frozenset(
            (r.user_id, r.group_id)
            for r in charged
            if r.user_id is not None and r.group_id is not None
        ),
        allowance_accounts=frozenset(
            f.account_id for r in charged for f in r.funding if f.kind == "allowance"
        ),
    )


async def on_usage_batch(session: Session, event: UsageBatchRecorded) -> None:
    """Check the batch's budgets in a savepoint: a failure here is logged and never costs the
    batch its money (the sweep job tries again)."""
    touched = touched_by(event)
    if not (touched.group_ids or touched.members or touched.allowance_accounts):
        return
    try:
        async with session.begin_nested():
            await check_budgets(session, touched, settings_cache.current, utc_now())
    except Exception:
        log.exception("budget alert check failed for a settlement batch")


def register() -> None:
    events.subscribe(UsageBatchRecorded, on_usage_batch)
