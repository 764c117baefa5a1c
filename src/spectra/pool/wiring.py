"""Start-up wiring of the pool: the in-memory state (loaded at start, refreshed by the change
feed prefix `pool.`), the scheduler the gateway uses, hot-path persistence through the group
committer, and the probe and figures jobs.

The gateway reaches the scheduler with `spectra.pool.wiring.scheduler()`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from spectra.db.changes import Change
from spectra.db.hub import Hub
from spectra.providers.client import UpstreamClient

from . import jobs
from .affinity import RedisAffinity
from .errors import PoolNotRunningError
from .scheduler import Scheduler
from .state import PersistWork, PoolState

log = logging.getLogger(__name__)

PROBE_INTERVAL = 15.0
FIGURES_INTERVAL = 60.0


class PoolRuntime:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.state = PoolState(hub.keys)
        self.scheduler = Scheduler(self.state)
        if hub.redis is not None:
            self.scheduler.shared_affinity = RedisAffinity(hub.redis, self.scheduler.affinity_ttl)
        self.client = UpstreamClient()

    async def start(self) -> None:
        self.state.persist = self._persist
        await self.state.load(self.hub.db)

    async def stop(self) -> None:
        await jobs.persist_figures(self.hub.db, self.state)
        await self.client.close()

    def _persist(self, work: PersistWork) -> None:
        try:
            future = self.hub.committer.submit_nowait(work)
        except RuntimeError:
            log.warning("pool state change not persisted: the group committer is not running")
            return
        future.add_done_callback(_consume)

    async def on_changes(self, changes: list[Change]) -> None:
        ids = []
        for change in changes:
            if change.entity_id:
                try:
                    ids.append(uuid.UUID(change.entity_id))
                except ValueError:
                    continue
        await self.state.refresh(self.hub.db, ids)

    async def probe_job(self) -> None:
        await jobs.run_probes(self.hub.db, self.state, self.client)

    async def figures_job(self) -> None:
        await jobs.persist_figures(self.hub.db, self.state)


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("persisting a pool state change failed: %s", future.exception())


_current: PoolRuntime | None = None


def install(hub: Hub) -> None:
    global _current
    runtime = PoolRuntime(hub)
    _current = runtime
    hub.on_start.append(runtime.start)
    hub.on_stop.append(runtime.stop)
    hub.feed.subscribe("pool.", runtime.on_changes)
    hub.jobs.register("pool.probes", PROBE_INTERVAL, runtime.probe_job)
    hub.jobs.register("pool.figures", FIGURES_INTERVAL, runtime.figures_job)


def current() -> PoolRuntime:
    if _current is None:
        raise PoolNotRunningError("The account pool is not running in this process.")
    return _current


def scheduler() -> Scheduler:
    """The process's scheduler (for the gateway)."""
    return current().scheduler


def find_current() -> PoolRuntime | None:
    return _current
