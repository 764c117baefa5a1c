"""The renewal job: brings every due assignment up to now, one unit of work per assignment."""

from __future__ import annotations

import logging

from spectra.db.session import Database, read_scope, session_scope
from spectra.kit.clock import utc_now
from spectra.packages import repository
from spectra.packages.service import renew_assignment

log = logging.getLogger(__name__)

JOB_NAME = "packages.renewals"
INTERVAL_SECONDS = 30.0
_BATCH = 200


async def run_renewals(db: Database, *, batch: int = _BATCH) -> int:
    """Grant, close and renew every due period; returns the number of assignments processed.

    Idempotent: re-running it, or running it in two processes at once, grants nothing twice
    (the assignment row is locked and every ledger movement has a per-period key).
    """
    now = utc_now()
    processed = 0
    skipped: set[object] = set()
    while True:
        async with read_scope(db) as session:
            due = [
                i
                for i in await repository.due_assignment_ids(
                    session, now, limit=batch + len(skipped)
                )
                if i not in skipped
            ]
        if not due:
            return processed
        for assignment_id in due[:batch]:
            try:
                async with session_scope(db) as session:
                    result = await renew_assignment(session, assignment_id=assignment_id, now=now)
            except Exception:
                log.exception("renewing package assignment %s failed", assignment_id)
                skipped.add(assignment_id)
                continue
            processed += 1
            if result.granted == 0 and result.closed == 0 and not result.ended:
                skipped.add(assignment_id)
