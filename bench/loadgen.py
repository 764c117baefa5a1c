"""Load generators: wrk for non-streamed POSTs, an asyncio/aiohttp client for streams.

`run_wrk` drives wrk at a fixed connection count with `wrk/post.lua` (one key) or
`wrk/post_keys.lua` (rotating keys) and parses the JSON line its `done` prints.
`run_streams` keeps `concurrency` streamed requests open for `duration` seconds and records,
per request, the time to first byte and every gap between body chunks.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

WRK_DIR = Path(__file__).parent / "wrk"


@dataclass
class LoadResult:
    requests: int = 0
    errors: int = 0
    non_2xx: int = 0
    seconds: float = 0.0
    latency_ms: list[float] = field(default_factory=list)
    ttfb_ms: list[float] = field(default_factory=list)
    gaps_ms: list[float] = field(default_factory=list)
    summary: dict[str, float] = field(default_factory=dict)
    """Percentiles precomputed by wrk: p50/p99 in ms."""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, what: str, p: float) -> float | None:
        if what == "latency" and f"p{p:g}" in self.summary:
            return self.summary[f"p{p:g}"]
        values = {"latency": self.latency_ms, "ttfb": self.ttfb_ms, "gaps": self.gaps_ms}[what]
        return percentile(values, p)


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(
    url: str,
    *,
    body_file: Path,
    header: str,
    value: str,
    connections: int,
    seconds: float,
    keys_file: Path | None = None,
    key_prefix: str = "",
) -> LoadResult:
    threads = 1 if connections < 4 else 2
    script = "post_keys.lua" if keys_file is not None else "post.lua"
    args = [str(body_file), header]
    args += [str(keys_file), key_prefix] if keys_file is not None else [value]
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(int(seconds), 1)}s",
        "--timeout",
        "10s",
        "-s",
        script,
        url,
        "--",
        *args,
    ]
    out = subprocess.run(cmd, cwd=WRK_DIR, capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("BENCH_WRK "))
    data: dict[str, Any] = json.loads(line.removeprefix("BENCH_WRK "))
    errors = sum(data[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts"))
    return LoadResult(
        requests=int(data["requests"]),
        errors=int(errors),
        non_2xx=int(data["status_errors"]),
        seconds=data["duration_us"] / 1e6,
        summary={"p50": data["p50_us"] / 1000, "p99": data["p99_us"] / 1000},
    )


async def run_streams(
    url: str,
    *,
    headers: dict[str, str],
    body: bytes,
    concurrency: int,
    seconds: float,
    max_requests: int | None = None,
) -> LoadResult:
    """Streamed POSTs from `concurrency` workers for `seconds` (or until `max_requests`)."""
    result = LoadResult()
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=120)
    started = time.perf_counter()
    deadline = started + seconds
    budget = [max_requests if max_requests is not None else 1 << 60]

    async def worker(session: aiohttp.ClientSession) -> None:
        while time.perf_counter() < deadline and budget[0] > 0:
            budget[0] -= 1
            t0 = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as resp:
                    first: float | None = None
                    last = t0
                    gaps: list[float] = []
                    async for _chunk in resp.content.iter_any():
                        now = time.perf_counter()
                        if first is None:
                            first = now
                        else:
                            gaps.append((now - last) * 1000)
                        last = now
                    done = time.perf_counter()
            except (aiohttp.ClientError, TimeoutError):
                result.errors += 1
                continue
            result.requests += 1
            if resp.status >= 300:
                result.non_2xx += 1
            result.latency_ms.append((done - t0) * 1000)
            if first is not None:
                result.ttfb_ms.append((first - t0) * 1000)
            result.gaps_ms.extend(gaps)

    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, auto_decompress=False
    ) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started
    return result


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0
