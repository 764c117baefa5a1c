"""Keep this process's price table fresh (load at start, refresh on price and currency
changes) and register the rollup and retention jobs."""

from __future__ import annotations

from spectra.db.changes import Change
from spectra.db.hub import Hub
from spectra.db.session import read_scope
from spectra.usage import jobs
from spectra.usage.service import PRICES_CHANGE
from spectra.usage.table import price_table
from spectra.workspace.service import CHANGE_KIND as SETTINGS_CHANGE

ROLLUP_INTERVAL_SECONDS = 10.0
RETENTION_INTERVAL_SECONDS = 3600.0


def install(hub: Hub) -> None:
    async def load() -> None:
        async with read_scope(hub.db) as session:
            await price_table.load(session)

    async def on_changes(_changes: list[Change]) -> None:
        await load()

    async def rollups() -> None:
        await jobs.run_rollups(hub.db)

    async def retention() -> None:
        await jobs.purge_expired(hub.db)

    hub.on_start.append(load)
    hub.feed.subscribe(PRICES_CHANGE, on_changes)
    hub.feed.subscribe(SETTINGS_CHANGE, on_changes)
    hub.jobs.register(jobs.ROLLUP_JOB, ROLLUP_INTERVAL_SECONDS, rollups)
    hub.jobs.register(jobs.RETENTION_JOB, RETENTION_INTERVAL_SECONDS, retention)
