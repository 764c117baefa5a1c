"""A process that runs the job scheduler on a database for a few seconds; its one job appends
a change-feed row naming this process. Used by test_jobs_once.py as two OS processes."""

from __future__ import annotations

import asyncio
import sys

from spectra.db.changes import record_change
from spectra.db.leases import JobScheduler
from spectra.db.session import open_database, session_scope


async def main(url: str, seconds: float) -> None:
    db = open_database(url)
    jobs = JobScheduler(db)

    async def job() -> None:
        async with session_scope(db) as session:
            await record_change(session, "test.job", jobs.holder[:64])

    jobs.register("test.once", 0.5, job)
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        await jobs.run_due()
        await asyncio.sleep(0.1)
    await db.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2])))
