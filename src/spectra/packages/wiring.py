"""Start-up wiring for packages: the renewal job."""

from __future__ import annotations

from spectra.db.hub import Hub
from spectra.packages import jobs


def install(hub: Hub) -> None:
    async def renewals() -> None:
        await jobs.run_renewals(hub.db)

    hub.jobs.register(jobs.JOB_NAME, jobs.INTERVAL_SECONDS, renewals)
