"""Audit background work: anchor the chain's head outside the database (a leased job)."""

from __future__ import annotations

from spectra.audit.anchors import Anchor, AnchorLog
from spectra.audit.verify import anchor_head
from spectra.db.session import Database, read_scope

ANCHOR_JOB = "audit.anchor"


async def anchor(db: Database, anchor_log: AnchorLog) -> Anchor | None:
    """Anchor the head if it moved and the events since the last anchor verify."""
    async with read_scope(db) as session:
        return await anchor_head(session, anchor_log)
