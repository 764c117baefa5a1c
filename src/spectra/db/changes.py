"""The change feed: every committed write that changes cached state appends a row; every
server process polls the feed (at most every 500 ms, one indexed query) and refreshes exactly
what changed. `record_change` also nudges the local poller after commit, so the writing
process sees its own change at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from spectra.db.models import ChangeFeedEntry
from spectra.db.session import Database, on_commit, read_scope
from spectra.kit.clock import monotonic, utc_now

log = logging.getLogger(__name__)

_GAP_TTL_SECONDS = 10.0
_BATCH = 1000


@dataclass(frozen=True, slots=True)
class Change:
    id: int
    kind: str
    entity_id: str | None


Listener = Callable[[list[Change]], Awaitable[None]]

_active: ChangeFeed | None = None


async def record_change(session: AsyncSession, kind: str, entity_id: object | None = None) -> None:
    """Append a change row in the caller's transaction (e.g. kind `keys.revoked`)."""
    await session.execute(
        insert(ChangeFeedEntry).values(
            kind=kind, entity_id=None if entity_id is None else str(entity_id), created_at=utc_now()
        )
    )
    feed = _active
    if feed is not None:
        on_commit(session, feed.kick)


class ChangeFeed:
    """Polls the change feed and hands new changes to listeners, by kind prefix."""

    def __init__(self, db: Database, *, interval: float = 0.5) -> None:
        self.db = db
        self.interval = interval
        self.last_id = 0
        self._listeners: list[tuple[str, Listener]] = []
        self._gaps: dict[int, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    def subscribe(self, prefix: str, listener: Listener) -> None:
        """Call `listener` with each batch of changes whose kind starts with `prefix`."""
        self._listeners.append((prefix, listener))

    async def start(self) -> None:
        global _active
        async with read_scope(self.db) as session:
            self.last_id = (
                await session.execute(select(func.max(ChangeFeedEntry.id)))
            ).scalar() or 0
        _active = self
        self._task = asyncio.create_task(self._run(), name="change-feed")

    async def stop(self) -> None:
        global _active
        if _active is self:
            _active = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def kick(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)
            self._wake.clear()
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("change feed poll failed; retrying")
                await asyncio.sleep(self.interval)

    async def poll_once(self) -> list[Change]:
        """Read new changes (including late commits that filled a gap) and dispatch them."""
        async with self._lock:
            now = monotonic()
            self._gaps = {
                gid: seen for gid, seen in self._gaps.items() if now - seen < _GAP_TTL_SECONDS
            }
            low = min([self.last_id, *(gid - 1 for gid in self._gaps)])
            async with read_scope(self.db) as session:
                rows = (
                    await session.execute(
                        select(ChangeFeedEntry.id, ChangeFeedEntry.kind, ChangeFeedEntry.entity_id)
                        .where(ChangeFeedEntry.id > low)
                        .order_by(ChangeFeedEntry.id)
                        .limit(_BATCH)
                    )
                ).all()
            fresh: list[Change] = []
            for row_id, kind, entity_id in rows:
                if row_id <= self.last_id and row_id not in self._gaps:
                    continue
                self._gaps.pop(row_id, None)
                if row_id > self.last_id:
                    # Ids skipped on the way may belong to transactions that commit later.
                    for missing in range(self.last_id + 1, row_id):
                        if missing not in self._gaps and row_id - missing < 1000:
                            self._gaps[missing] = now
                    self.last_id = row_id
                fresh.append(Change(row_id, kind, entity_id))
            if fresh:
                await self._dispatch(fresh)
            return fresh

    async def _dispatch(self, changes: list[Change]) -> None:
        for prefix, listener in self._listeners:
            matching = [c for c in changes if c.kind.startswith(prefix)]
            if not matching:
                continue
            try:
                await listener(matching)
            except Exception:
                log.exception("change listener for %r failed", prefix)
