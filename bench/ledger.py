"""Ledger throughput through the gateway's own code: `admit` (decision, price, rate limits,
hold) + `Settler.settle` per request, in-process; then the settled records (ledger transaction
+ usage record per request, written by the group committer through the settler's batch path:
one `post_specs` and one usage INSERT per batch) reaching the database.

Two phases, so each number measures one thing: first every request is admitted and settled
without yielding to the loop (the committer only queues), then the queue drains. `durable_per_s`
is records made durable per second of draining (the settlement path's own throughput, what a
server's committer can sustain); `end_to_end_per_s` divides by both phases (one event loop doing
the hot path AND the writes, as a single-process server does); `write_cpu_ms` is the process CPU
per record while draining (aiosqlite's thread included).

    python -m bench.ledger --count 20000   # SPECTRA_DATA_DIR / SPECTRA_DATABASE_URL: scratch
Prints `BENCH_JSON {...}`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench import world
from spectra.config import reset_settings
from spectra.db.session import read_scope
from spectra.gateway import wiring as gateway_wiring
from spectra.gateway.admission import admit
from spectra.gateway.settlement import base_record
from spectra.providers.bodies import RequestInfo
from spectra.providers.metering import Metered
from spectra.providers.types import Usage
from spectra.runtime import build_runtime, close_runtime
from spectra.usage.models import UsageRecord


async def run(
    count: int, scratch: Path, window: float, profile: str | None = None
) -> dict[str, Any]:
    out = scratch / "world.json"
    await world.seed("http://127.0.0.1:9", out, hot_keys=0, hot_members=0)
    secret = json.loads(out.read_text())["key"]
    runtime = await build_runtime(reset_settings())
    try:
        await runtime.start(run_jobs=False)
        gw = gateway_wiring.current()
        assert gw is not None
        info = RequestInfo(
            model=world.OPENAI_MODEL,
            stream=False,
            max_tokens=256,
            include_usage=False,
            input_tokens_estimate=100,
            fields={},
        )
        entry = gw.keys.lookup(secret, None)
        usage = Usage(input_tokens=120, output_tokens=40)
        metered = Metered(usage, estimated=False)
        t0 = time.perf_counter()
        for i in range(count):
            rid = f"req_ledger_{i}"
            admission = await admit(
                request_id=rid,
                entry=entry,
                info=info,
                model=world.OPENAI_MODEL,
                cache=gw.policy,
                view=gw.view,
                prices=gw.prices,
                limiter=gw.limiter,
                settings=gw.workspace,
                key_limits=gw.key_limits(str(entry.key_id)),
                user_limits=gw.user_limits(str(entry.user_id)),
            )
            record = base_record(
                request_id=rid,
                protocol="openai_chat",
                model=world.OPENAI_MODEL,
                admission=admission,
                client_family="other",
            )
            await gw.settler.settle(admission, replace(record, status="ok"), metered)
            if admission.lease is not None:
                admission.lease.finish(usage.total_tokens)
        t1 = time.perf_counter()
        cpu1 = time.process_time()
        profiler = cProfile.Profile() if profile else None
        if profiler is not None:
            profiler.enable()
        # The durable rate: what reached the database within the window (the rest is dropped).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(gw.settler.flush(), timeout=window)
        t2 = time.perf_counter()
        cpu2 = time.process_time()
        if profiler is not None and profile:
            profiler.disable()
            profiler.dump_stats(profile)
        async with read_scope(runtime.db) as session:
            written = (
                await session.execute(
                    select(func.count())
                    .select_from(UsageRecord)
                    .where(UsageRecord.request_id.like("req_ledger_%"))
                )
            ).scalar_one()
        result = {
            "count": count,
            "written": int(written),
            "failed": gw.settler.failed,
            "in_process_per_s": count / (t1 - t0),
            "durable_per_s": written / (t2 - t1),
            "end_to_end_per_s": written / (t2 - t0),
            "write_cpu_ms": 1000 * (cpu2 - cpu1) / max(int(written), 1),
            "batches": runtime.committer.batches,
            "complete": written == count,
        }
        print("BENCH_JSON " + json.dumps(result), flush=True)
        if written != count:
            os._exit(0)  # do not wait for the backlog to drain
        return result
    finally:
        await close_runtime(runtime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5_000)
    parser.add_argument("--window", type=float, default=30.0, help="seconds to wait for commits")
    parser.add_argument("--profile", help="write a cProfile of the draining phase to this file")
    args = parser.parse_args()
    settings = reset_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(run(args.count, settings.data_dir, args.window, args.profile))


if __name__ == "__main__":
    main()
