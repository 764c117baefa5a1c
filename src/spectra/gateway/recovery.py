"""Replaying orphaned settlement journals at start (see `journal.py`), before serving.

Idempotent: the records already written (by id) are skipped; the others are written exactly as
the group committer would (`settlement._write_batch`: ledger transactions keyed by the hold's id,
then the records), in batches, each in one transaction. The balances they moved are announced on
the change feed, so every process's balance view re-reads them.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sqlalchemy import select, text

from spectra.db.changes import record_change
from spectra.db.session import Database, session_scope
from spectra.ledger.balance_view import LedgerTransactionSpec
from spectra.ledger.service.post import BALANCE_CHANGE
from spectra.usage.models import UsageRecord
from spectra.usage.schemas import UsageRecordCreate

from .journal import orphans, read_lines
from .settlement import _Settlement, _write_batch

log = logging.getLogger(__name__)

BATCH = 500
_ADVISORY_KEY = 0x5E771E  # "settle": one key for every Spectra journal replay
Entry = tuple[UsageRecordCreate, LedgerTransactionSpec | None]


async def replay_orphans(db: Database, directory: Path) -> int:
    """Write what orphaned journals in `directory` hold and the database lacks; delete them.
    Returns how many settlements were written."""
    written = 0
    for path, fd in orphans(directory):
        try:
            entries, bad = read_lines(fd)
            count = 0
            for start in range(0, len(entries), BATCH):
                count += await _replay(db, entries[start : start + BATCH])
            if bad:
                log.warning("%s: %d unreadable lines (torn by a crash) passed over", path, bad)
            if count:
                log.warning(
                    "settlement journal %s: %d of %d settlements were not in the database; "
                    "written now",
                    path.name,
                    count,
                    len(entries),
                )
            written += count
            path.unlink(missing_ok=True)
        finally:
            os.close(fd)
    return written


async def _replay(db: Database, entries: list[Entry]) -> int:
    async with session_scope(db) as session:
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_KEY}
            )
        ids = [record.id for record, _ in entries if record.id is not None]
        found = set(
            (await session.execute(select(UsageRecord.id).where(UsageRecord.id.in_(ids))))
            .scalars()
            .all()
        )
        missing = [_Settlement(r, s) for r, s in entries if r.id is not None and r.id not in found]
        if not missing:
            return 0
        await _write_batch(session, missing)
        accounts = {
            account
            for item in missing
            if item.spec is not None and item.error is None
            for account, _ in item.spec.postings
        }
        for account in sorted(accounts):
            await record_change(session, BALANCE_CHANGE, account)
        for item in missing:
            if item.error is not None:
                log.error(
                    "journal replay: settlement of %s refused (%s: %s)",
                    item.record.request_id,
                    item.error.code,
                    item.error.message,
                )
        return sum(1 for item in missing if item.error is None)
