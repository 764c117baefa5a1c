"""Keep the in-memory settings fresh in every serving process."""

from __future__ import annotations

from spectra.db.hub import Hub
from spectra.workspace.cache import listener, settings_cache
from spectra.workspace.service import CHANGE_KIND


def install(hub: Hub) -> None:
    async def load() -> None:
        await settings_cache.load(hub.db)

    hub.on_start.append(load)
    hub.feed.subscribe(CHANGE_KIND, listener(hub.db))
