"""Start-up: load the policy snapshot and keep it fresh from the change feed."""

from __future__ import annotations

from spectra.db.hub import Hub

from .snapshot import PolicyCache, set_current


def install(hub: Hub) -> None:
    cache = PolicyCache(hub.db)
    set_current(cache)
    for prefix in ("packages.", "policy.", "groups.", "ledger.balance", "budgets."):
        hub.feed.subscribe(prefix, cache.apply)

    async def stop() -> None:
        set_current(None)

    hub.on_start.append(cache.load)
    hub.on_stop.append(stop)
