"""`kill -9` under load, settlement journal on (the default): how many requests were in flight
and how many completed answers were not yet in the database at the kill, and whether, after a
restart (which replays the journal), every completed answer has its usage record and its
charge and `spectra ledger verify` passes. The suite's tests/gateway/test_crash_journal.py
asserts the same guarantee with the committer held open for a minute; this runs the shipped
settings (SPECTRA_COMMIT_MAX_DELAY 20 ms) under a steady load, so the numbers are what a real
crash would leave.

`SPECTRA_LEASE_TTL_SECONDS=2` only shortens the wait before the restart may take the dead
process's job leases; it changes nothing about what is written.

    python -m bench.crash --seconds 10 --concurrency 16   # SPECTRA_DATA_DIR / _DATABASE_URL: scratch
Prints `BENCH_JSON {...}`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select

from bench import procs, world
from spectra.config import reset_settings
from spectra.db.engine import create_engine
from spectra.usage.models import UsageRecord

PROMPT = "Write a haiku about proxies. " * 8


def _body(n: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": world.OPENAI_MODEL,
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": 256,
    }
    if n % 2:
        # a stream of ~20 chunks 5 ms apart: requests stay open long enough to be cut
        body |= {"stream": True, "bench_chunk_delay_ms": 5}
    return body


class Load:
    """Closed-loop clients; each request is `started`, then `completed` (whole answer, its
    request id) or failed. `open_at(t)` counts the requests started and not finished at t."""

    def __init__(self, url: str, key: str, concurrency: int) -> None:
        self.url = url
        self.key = key
        self.concurrency = concurrency
        self.completed: list[tuple[str, float]] = []
        self.spans: list[tuple[float, float]] = []
        self.failed = 0
        self.stop = False

    async def _one(self, http: aiohttp.ClientSession, n: int) -> None:
        started = time.monotonic()
        body = _body(n)
        try:
            async with http.post(
                f"{self.url}/v1/chat/completions",
                json=body,
                headers={"Authorization": f"Bearer {self.key}"},
            ) as resp:
                text = await resp.text()
                rid = resp.headers.get("x-spectra-request-id", "")
                ok = resp.status == 200 and (
                    "[DONE]" in text if body.get("stream") else bool(json.loads(text))
                )
        except (TimeoutError, aiohttp.ClientError, json.JSONDecodeError):
            ok, rid = False, ""
        ended = time.monotonic()
        self.spans.append((started, ended))
        if ok and rid:
            self.completed.append((rid, ended))
        else:
            self.failed += 1

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(timeout=timeout) as http:

            async def client(c: int) -> None:
                n = c
                while not self.stop:
                    await self._one(http, n)
                    n += self.concurrency

            await asyncio.gather(*(client(c) for c in range(self.concurrency)))

    def open_at(self, at: float) -> int:
        return sum(1 for s, e in self.spans if s <= at < e)


async def _records(url: str, request_ids: list[str]) -> dict[str, tuple[int, bool, str]]:
    """{request id: (cost, has a ledger transaction, status)} for the ids written."""
    engine = create_engine(url)
    try:
        found: dict[str, tuple[int, bool, str]] = {}
        async with engine.connect() as conn:
            for i in range(0, len(request_ids), 1000):
                chunk = request_ids[i : i + 1000]
                rows = await conn.execute(
                    select(
                        UsageRecord.request_id,
                        UsageRecord.cost_micros,
                        UsageRecord.ledger_transaction_id,
                        UsageRecord.status,
                    ).where(UsageRecord.request_id.in_(chunk))
                )
                for rid, cost, txn, status in rows:
                    found[rid] = (int(cost), txn is not None, status)
        return found
    finally:
        await engine.dispose()


def _verify(env: dict[str, str]) -> bool:
    spectra = Path(sys.executable).parent / "spectra"
    done = subprocess.run(
        [str(spectra), "ledger", "verify", "--json"],
        cwd=procs.ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
        return False
    return bool(json.loads(done.stdout).get("ok"))


async def run(seconds: float, concurrency: int) -> dict[str, Any]:
    settings = reset_settings()
    data = settings.data_dir
    data.mkdir(parents=True, exist_ok=True)
    env = {"SPECTRA_LEASE_TTL_SECONDS": "2"}
    with procs.children() as running:
        fake = procs.start_module(
            "fake", "bench.fake", marker="BENCH_FAKE_URL", log=data / "fake.log"
        )
        running.append(fake)
        out = data / "world.json"
        await world.seed(fake.url, out, hot_keys=0, hot_members=0)
        key = json.loads(out.read_text())["key"]
        port = procs.free_port()
        server = procs.start_spectra("spectra", env, port, data / "serve.log")
        running.append(server)
        load = Load(server.url, key, concurrency)
        task = asyncio.ensure_future(load.run())
        await asyncio.sleep(seconds)
        killed_at = time.monotonic()
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(30)
        load.stop = True
        await task
        completed = [rid for rid, ended in load.completed if ended <= killed_at]
        in_flight = load.open_at(killed_at)
        journal = sorted(p.name for p in (data / "journal").glob("settle-*.jsonl"))
        url = settings.resolved_database_url
        at_kill = await _records(url, completed)
        unsettled = len(completed) - len(at_kill)

        # Restart on the same data directory: the journal is replayed before it serves.
        deadline = time.monotonic() + 120
        restarted_in = time.monotonic()
        while True:
            try:
                server = procs.start_spectra("spectra", env, port, data / "serve2.log")
                break
            except RuntimeError:
                # the dead process's leases have not expired yet: the start refused
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
        running.append(server)
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                try:
                    async with http.get(f"{server.url}/readyz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        restarted_in = time.monotonic() - restarted_in
        after = await _records(url, completed)
        missing = [rid for rid in completed if rid not in after]
        uncharged = [
            rid
            for rid in completed
            if rid in after and (after[rid][2] != "ok" or after[rid][0] <= 0 or not after[rid][1])
        ]
        server.stop()
        verified = _verify({})
        journal_left = sorted(p.name for p in (data / "journal").glob("settle-*.jsonl"))
    return {
        "seconds": seconds,
        "concurrency": concurrency,
        "requests": len(load.spans),
        "completed_before_kill": len(completed),
        "in_flight_at_kill": in_flight,
        "unsettled_at_kill": unsettled,
        "journal_files_at_kill": len(journal),
        "missing_after_restart": len(missing),
        "uncharged_after_restart": len(uncharged),
        "journal_files_after_restart": len(journal_left),
        "restart_s": restarted_in,
        "ledger_verify_ok": verified,
        "ok": verified and not missing and not uncharged,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="load before the kill")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    print("BENCH_JSON " + json.dumps(asyncio.run(run(args.seconds, args.concurrency))))


if __name__ == "__main__":
    main()
