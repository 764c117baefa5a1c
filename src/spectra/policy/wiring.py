"""Start-up: load the policy snapshot and keep it fresh from the change feed (budget counters
in Redis when it is configured); the rollout autopilot job."""

from __future__ import annotations

from spectra.db.hub import Hub

from . import rollout_autopilot
from .budget_redis import RedisBudgetCounters
from .snapshot import PolicyCache, set_current


def install(hub: Hub) -> None:
    cache = PolicyCache(hub.db)
    if hub.redis is not None:  # several processes: budgets checked and counted in Redis
        cache.spend.budgets = RedisBudgetCounters(hub.db, hub.redis)
    set_current(cache)
    for prefix in ("packages.", "policy.", "groups.", "ledger.balance", "budgets."):
        hub.feed.subscribe(prefix, cache.apply)

    async def stop() -> None:
        await cache.spend.budgets.flush()
        set_current(None)

    async def autopilot() -> None:
        await rollout_autopilot.run_autopilot(hub.db)

    hub.jobs.register(rollout_autopilot.JOB_NAME, rollout_autopilot.INTERVAL_SECONDS, autopilot)
    hub.on_start.append(cache.load)
    hub.on_stop.append(stop)
