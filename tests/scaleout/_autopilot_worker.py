"""A process that runs the rollout autopilot over and over on a database at a frozen time.
Used by test_autopilot_two_processes.py as two OS processes started together."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime

from spectra.db import serverkey
from spectra.db.session import open_database
from spectra.kit import clock
from spectra.policy import rollout_autopilot
from spectra.wiring import register_handlers


async def main(url: str, now: str, secret: str, passes: int) -> None:
    clock.freeze(datetime.fromisoformat(now))
    serverkey.set_server_keys(serverkey.ServerKeys(secret=bytes.fromhex(secret)))
    register_handlers()
    db = open_database(url)
    made = 0
    for _ in range(passes):
        made += len(await rollout_autopilot.run_autopilot(db))
    await db.dispose()
    sys.stdout.write(f"{made}\n")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
