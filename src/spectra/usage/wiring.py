"""Keep this process's price table fresh: load at start, refresh on price and currency changes."""

from __future__ import annotations

from spectra.db.changes import Change
from spectra.db.hub import Hub
from spectra.db.session import read_scope
from spectra.usage.service import PRICES_CHANGE
from spectra.usage.table import price_table
from spectra.workspace.service import CHANGE_KIND as SETTINGS_CHANGE


def install(hub: Hub) -> None:
    async def load() -> None:
        async with read_scope(hub.db) as session:
            await price_table.load(session)

    async def on_changes(_changes: list[Change]) -> None:
        await load()

    hub.on_start.append(load)
    hub.feed.subscribe(PRICES_CHANGE, on_changes)
    hub.feed.subscribe(SETTINGS_CHANGE, on_changes)
