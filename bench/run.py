"""`make bench`: every scenario against direct / bare proxy / Spectra (SQLite, PostgreSQL when
reachable; PostgreSQL + Redis, one process and two, when Redis is reachable too), in one run,
then usage reports over many records and ledger throughput; prints ONE table (markdown) and
writes it with the raw numbers to $BENCH_OUT (default: a scratch dir).

Environment:
  BENCH_QUICK=1          smoke run (2 s runs, fewer keys, streams and records; ~5 min on a
                         busy 2-core box)
  BENCH_SECONDS=N        seconds per load run (default 5; quick 2)
  BENCH_RECORDS=N        usage records for the report scenario (default 100,000; quick 20,000;
                         see bench/RESULTS.md for why not 10M by default)
  BENCH_PG_URL=...       PostgreSQL server (default postgresql://postgres@127.0.0.1:5432/postgres);
                         BENCH_PG=0 skips PostgreSQL
  BENCH_REDIS_URL=...    Redis for the shared-state targets (default redis://127.0.0.1:6379/0;
                         keys under a prefix of this run, deleted before and after);
                         BENCH_REDIS=0 skips them
  BENCH_ONLY=a,b         only scenarios whose name contains one of these words (`reports`,
                         `ledger`, `crash` name the side benchmarks)
  BENCH_TARGETS=a,b      only these targets (direct, bare, litellm, spectra-sqlite,
                         spectra-sqlite-granian, spectra-pg, spectra-pg-redis,
                         spectra-pg-redis-x2; default all that are reachable)
  BENCH_LITELLM=0        skip the LiteLLM peer (bench/peer_litellm.py: its proxy, installed
                         once from PyPI into BENCH_LITELLM_VENV, default
                         ~/.cache/spectra-bench/litellm-venv; one worker, no database)
  BENCH_DRAIN_SECONDS=N  after each Spectra run, wait up to N s for its settlements to be
                         written (default 20; quick 3); CPU per request includes that wait
  BENCH_QUIET_SECONDS=N  before each run, wait up to N s until every Spectra process is idle
                         (a backlog another target left would take CPU from this run;
                         default 60; quick 15); the note says when it was not
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import loadgen, procs
from bench.loadgen import LoadResult

QUICK = os.environ.get("BENCH_QUICK") == "1"
SECONDS = float(os.environ.get("BENCH_SECONDS") or (2 if QUICK else 5))
RECORDS = int(os.environ.get("BENCH_RECORDS") or (20_000 if QUICK else 100_000))
HOT_KEYS = 1_000 if QUICK else 10_000
DRAIN_SECONDS = float(os.environ.get("BENCH_DRAIN_SECONDS") or (3 if QUICK else 20))
QUIET_SECONDS = float(os.environ.get("BENCH_QUIET_SECONDS") or (15 if QUICK else 60))
QUIET_CPU = 0.05
"""A Spectra process using less than this share of a core is idle (feed polls, jobs)."""
OPEN_STREAMS = 200 if QUICK else 1_000
PG_BASE = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
ONLY = [w for w in os.environ.get("BENCH_ONLY", "").split(",") if w]
REDIS_BASE = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
TARGET_NAMES = (
    "direct",
    "bare",
    "litellm",
    "spectra-sqlite",
    "spectra-sqlite-granian",
    "spectra-pg",
    "spectra-pg-redis",
    "spectra-pg-redis-x2",
)
TARGETS = [w.strip() for w in os.environ.get("BENCH_TARGETS", "").split(",") if w.strip()]
REDIS_TARGETS = ("spectra-pg-redis", "spectra-pg-redis-x2")
UPSTREAM_KEY = "sk-bench-upstream"

PROMPT = "Write a haiku about proxies. " * 8


def chat(stream: bool, delay: int = 0) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "bench-gpt",
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": 256,
    }
    if stream:
        body["stream"] = True
    if delay:
        body["bench_chunk_delay_ms"] = delay
    return body


def messages(stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "bench-claude",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": PROMPT}],
    }
    if stream:
        body["stream"] = True
    return body


@dataclass
class Scenario:
    name: str
    path: str
    body: dict[str, Any]
    concurrency: int
    stream: bool = False
    spectra_only: bool = False
    hot_keys: bool = False
    broke: bool = False
    open_streams: bool = False
    max_requests: int | None = None
    shared: bool = False
    """Also run against the PostgreSQL + Redis targets (one process and two)."""


SCENARIOS = [
    Scenario("chat c1", "/v1/chat/completions", chat(False), 1),
    Scenario("chat c16", "/v1/chat/completions", chat(False), 16, shared=True),
    Scenario("chat c64", "/v1/chat/completions", chat(False), 64, shared=True),
    Scenario("chat stream c1", "/v1/chat/completions", chat(True), 1, stream=True),
    Scenario("chat stream c16", "/v1/chat/completions", chat(True), 16, stream=True, shared=True),
    Scenario("messages stream c1", "/v1/messages", messages(True), 1, stream=True),
    Scenario("messages stream c16", "/v1/messages", messages(True), 16, stream=True),
    Scenario("chat stream 5ms/chunk c4", "/v1/chat/completions", chat(True, 5), 4, stream=True),
    Scenario(
        f"{HOT_KEYS} keys hot c16",
        "/v1/chat/completions",
        chat(False),
        16,
        spectra_only=True,
        hot_keys=True,
        shared=True,
    ),
    Scenario(
        "refusal (balance 0) c16",
        "/v1/chat/completions",
        chat(False),
        16,
        spectra_only=True,
        broke=True,
        shared=True,
    ),
    Scenario(
        f"{OPEN_STREAMS} open streams",
        "/v1/chat/completions",
        chat(True, 200),
        OPEN_STREAMS,
        stream=True,
        open_streams=True,
        max_requests=OPEN_STREAMS,
    ),
]


@dataclass
class Target:
    name: str
    child: procs.Child
    world: dict[str, Any] = field(default_factory=dict)
    db_url: str | None = None
    others: list[procs.Child] = field(default_factory=list)
    """Further processes of the same deployment (same database and Redis); the load is split
    evenly across `child` and these, and CPU and RSS are summed over all of them."""
    shared_only: bool = False
    """Runs only the scenarios marked `shared`."""
    key: str | None = None
    """The client key of a peer gateway (LiteLLM's master key); None: the upstream's key."""

    @property
    def processes(self) -> list[procs.Child]:
        return [self.child, *self.others]

    def cpu_seconds(self) -> float:
        return sum(c.cpu_seconds() for c in self.processes)

    def rss_mb(self) -> float:
        return sum(c.rss_mb() for c in self.processes)

    def runs(self, scenario: Scenario) -> bool:
        if scenario.spectra_only and not self.spectra:
            return False
        if scenario.open_streams and self.name in ("direct", "litellm"):
            return False
        return scenario.shared or not self.shared_only

    def records(self) -> int | None:
        """Usage records in Spectra's database (what settlement has made durable)."""
        if not self.spectra:
            return None
        if self.db_url is None:
            import sqlite3

            path = Path(self.world["data_dir"]) / "spectra.db"
            with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
                return int(conn.execute("SELECT count(*) FROM usage_records").fetchone()[0])
        return asyncio.run(_pg_count(self.db_url))

    @property
    def spectra(self) -> bool:
        return bool(self.world)

    def auth(self, scenario: Scenario) -> tuple[str, str, str]:
        """(header, value, prefix for rotated keys)."""
        anthropic = scenario.path == "/v1/messages"
        secret = self.key or UPSTREAM_KEY
        if self.spectra:
            secret = self.world["broke_key"] if scenario.broke else self.world["key"]
        if anthropic:
            return "x-api-key", secret, ""
        return "authorization", f"Bearer {secret}", "Bearer "


@dataclass
class Row:
    scenario: str
    target: str
    rps: float | None = None
    p50: float | None = None
    p99: float | None = None
    ttfb50: float | None = None
    gap99: float | None = None
    cpu_ms: float | None = None
    rss_mb: float | None = None
    errors: int = 0
    non_2xx: int = 0
    note: str = ""
    vs_bare: str = ""
    vs_direct: str = ""
    vs_litellm: str = ""


def measure(target: Target, scenario: Scenario, scratch: Path) -> Row:
    header, value, prefix = target.auth(scenario)
    body = json.dumps(scenario.body).encode()
    urls = [c.url + scenario.path for c in target.processes]
    records0 = target.records()
    cpu0 = target.cpu_seconds()
    peak = [target.rss_mb()]
    split = ""
    if scenario.stream:
        headers = {header: value, "content-type": "application/json"}
        if scenario.path == "/v1/messages":
            headers["anthropic-version"] = "2023-06-01"
        result = asyncio.run(_streams_sampling(urls, headers, body, scenario, target, peak))
    else:
        body_file = scratch / f"body-{abs(hash(body))}.json"
        body_file.write_bytes(body)
        keys_file = Path(target.world["hot_keys_file"]) if scenario.hot_keys else None
        result, split = _wrk_split(
            urls,
            body_file=body_file,
            header=header,
            value=value,
            connections=scenario.concurrency,
            keys_file=keys_file,
            key_prefix=prefix,
        )
    rss = max(peak[0], target.rss_mb())
    note = split
    if records0 is not None and result.requests:
        # Wait (bounded) for this run's settlements to reach the database, so that CPU per
        # request includes settling it and the backlog does not spill into the next run.
        loaded = time.monotonic()
        settled = drain(target, records0, result.requests)
        note = "; ".join(
            n
            for n in (
                f"{100 * settled / result.requests:.0f}% settled "
                f"{time.monotonic() - loaded:.0f} s after the load",
                split,
            )
            if n
        )
    cpu = target.cpu_seconds() - cpu0
    return Row(
        scenario.name,
        target.name,
        rps=None if scenario.open_streams else result.rps,
        p50=result.pct("latency", 50),
        p99=result.pct("latency", 99),
        ttfb50=result.pct("ttfb", 50) if scenario.stream else None,
        gap99=result.pct("gaps", 99) if scenario.stream else None,
        cpu_ms=cpu * 1000 / result.requests if result.requests else None,
        rss_mb=rss,
        errors=result.errors,
        non_2xx=result.non_2xx,
        note=note,
    )


def quiet(targets: list[Target]) -> str:
    """Wait (bounded) until no Spectra process is still busy, typically writing the settlement
    backlog of an earlier run: on this 2-core box it would take CPU from the next run. Returns
    a note when the bound was reached."""
    spectra = [c for t in targets if t.spectra for c in t.processes]
    if not spectra:
        return ""
    started = time.monotonic()
    before = [c.cpu_seconds() for c in spectra]
    while True:
        time.sleep(1.0)
        after = [c.cpu_seconds() for c in spectra]
        busy = [c.name for c, b, a in zip(spectra, before, after, strict=True) if a - b > QUIET_CPU]
        if not busy:
            return ""
        if time.monotonic() - started > QUIET_SECONDS:
            return f"{', '.join(sorted(set(busy)))} still busy {QUIET_SECONDS:.0f} s before the run"
        before = after


def drain(target: Target, records0: int, expected: int) -> int:
    """Wait up to DRAIN_SECONDS until `expected` usage records were written after `records0`;
    the number written."""
    started = time.monotonic()
    while True:
        settled = (target.records() or 0) - records0
        if settled >= expected or time.monotonic() - started > DRAIN_SECONDS:
            return settled
        time.sleep(0.5)


async def _pg_count(url: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(url.replace("+asyncpg", ""), timeout=5)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM usage_records"))
    finally:
        await conn.close()


def _wrk_split(
    urls: list[str],
    *,
    body_file: Path,
    header: str,
    value: str,
    connections: int,
    keys_file: Path | None,
    key_prefix: str,
) -> tuple[LoadResult, str]:
    """wrk against each URL at once, the connections split evenly; the result summed.

    wrk takes one URL, and a load balancer in front would add its own hop and CPU on this box,
    so a deployment of N processes is driven by N wrk instances started together. Requests and
    rps add up exactly. wrk reports percentiles, not samples, so the merged p50/p99 are the
    slower half's (an upper bound: a percentile of the union lies between the halves' values);
    the note gives both halves.
    """

    def one(url: str, share: int) -> LoadResult:
        return loadgen.run_wrk(
            url,
            body_file=body_file,
            header=header,
            value=value,
            connections=share,
            seconds=SECONDS,
            keys_file=keys_file,
            key_prefix=key_prefix,
        )

    if len(urls) == 1:
        return one(urls[0], connections), ""
    shares = [connections // len(urls) + (i < connections % len(urls)) for i in range(len(urls))]
    with ThreadPoolExecutor(len(urls)) as pool:
        parts = list(pool.map(one, urls, shares))
    total = sum(p.requests for p in parts)
    rps = sum(p.rps for p in parts)
    merged = LoadResult(
        requests=total,
        errors=sum(p.errors for p in parts),
        non_2xx=sum(p.non_2xx for p in parts),
        seconds=total / rps if rps else max(p.seconds for p in parts),
        summary={
            "p50": max(p.summary["p50"] for p in parts),
            "p99": max(p.summary["p99"] for p in parts),
        },
    )
    # No "|" here: the note is a markdown table cell.
    halves = " + ".join(
        f"{fmt(p.rps, 0)} rps (p50 {fmt(p.summary['p50'])}, p99 {fmt(p.summary['p99'])})"
        for p in parts
    )
    return merged, f"{len(urls)} wrk x c{shares[0]}: {halves}"


async def _streams_sampling(
    urls: list[str],
    headers: dict[str, str],
    body: bytes,
    scenario: Scenario,
    target: Target,
    peak: list[float],
) -> LoadResult:
    """Streams against each URL at once, concurrency split evenly; samples merged exactly."""

    async def sample() -> None:
        while True:
            peak[0] = max(peak[0], target.rss_mb())
            await asyncio.sleep(0.2)

    n = len(urls)
    shares = [scenario.concurrency // n + (i < scenario.concurrency % n) for i in range(n)]
    budgets: list[int | None] = [
        None
        if scenario.max_requests is None
        else scenario.max_requests // n + (i == 0) * (scenario.max_requests % n)
        for i in range(n)
    ]
    sampler = asyncio.ensure_future(sample())
    try:
        parts = await asyncio.gather(
            *(
                loadgen.run_streams(
                    url,
                    headers=headers,
                    body=body,
                    concurrency=share,
                    seconds=SECONDS if scenario.max_requests is None else 120,
                    max_requests=budget,
                )
                for url, share, budget in zip(urls, shares, budgets, strict=True)
            )
        )
    finally:
        sampler.cancel()
    if n == 1:
        return parts[0]
    return LoadResult(
        requests=sum(p.requests for p in parts),
        errors=sum(p.errors for p in parts),
        non_2xx=sum(p.non_2xx for p in parts),
        seconds=max(p.seconds for p in parts),
        latency_ms=[v for p in parts for v in p.latency_ms],
        ttfb_ms=[v for p in parts for v in p.ttfb_ms],
        gaps_ms=[v for p in parts for v in p.gaps_ms],
    )


def ratios(rows: list[Row]) -> None:
    """Fill Spectra/bare and Spectra/direct for rows of the same scenario."""
    by = {(r.scenario, r.target): r for r in rows}
    for row in rows:
        if not row.target.startswith("spectra"):
            continue
        for base, attr in (("bare", "vs_bare"), ("direct", "vs_direct")):
            ref = by.get((row.scenario, base))
            if ref is None:
                continue
            parts = []
            if row.rps and ref.rps:
                parts.append(f"{row.rps / ref.rps:.2f}x rps")
            if row.p50 is not None and ref.p50 is not None:
                parts.append(f"{row.p50 - ref.p50:+.2f}/{(row.p99 or 0) - (ref.p99 or 0):+.2f} ms")
            if row.ttfb50 is not None and ref.ttfb50 is not None:
                parts.append(f"ttfb {row.ttfb50 - ref.ttfb50:+.2f}")
            if row.gap99 is not None and ref.gap99 is not None:
                parts.append(f"gap99 {row.gap99 - ref.gap99:+.2f}")
            setattr(row, attr, ", ".join(parts))
        peer = by.get((row.scenario, "litellm"))
        if peer is not None:
            row.vs_litellm = versus_peer(row, peer)


def versus_peer(row: Row, peer: Row) -> str:
    """Spectra against a peer gateway: rps as a multiple of the peer's, latency (p50/p99, time
    to first byte) as a signed difference (negative: Spectra is faster), CPU per request as a
    fraction of the peer's."""
    parts = []
    if row.rps and peer.rps:
        parts.append(f"{row.rps / peer.rps:.1f}x rps")
    if row.p50 is not None and peer.p50 is not None:
        parts.append(f"{row.p50 - peer.p50:+.2f}/{(row.p99 or 0) - (peer.p99 or 0):+.2f} ms")
    if row.ttfb50 is not None and peer.ttfb50 is not None:
        parts.append(f"ttfb {row.ttfb50 - peer.ttfb50:+.2f}")
    if row.cpu_ms and peer.cpu_ms:
        # CPU per request holds up on a loaded machine, where rps and latency do not.
        parts.append(f"{row.cpu_ms / peer.cpu_ms:.3f}x cpu/req")
    return ", ".join(parts)


def fmt(value: float | None, digits: int = 2) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.{digits}f}"


def table(rows: list[Row]) -> str:
    head = (
        "scenario",
        "target",
        "rps",
        "p50 ms",
        "p99 ms",
        "ttfb p50",
        "gap p99",
        "cpu ms/req (incl. settling)",
        "rss MB",
        "err/non-2xx",
        "Spectra/bare",
        "Spectra/direct",
        "Spectra/LiteLLM",
        "note",
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = (
            r.scenario,
            r.target,
            fmt(r.rps, 0),
            fmt(r.p50),
            fmt(r.p99),
            fmt(r.ttfb50),
            fmt(r.gap99),
            fmt(r.cpu_ms, 3),
            fmt(r.rss_mb, 0),
            f"{r.errors}/{r.non_2xx}" if r.errors or r.non_2xx else "",
            r.vs_bare,
            r.vs_direct,
            r.vs_litellm,
            r.note,
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def pg_reachable() -> bool:
    if os.environ.get("BENCH_PG") == "0":
        return False
    try:
        asyncio.run(_pg("SELECT 1"))
    except Exception as exc:
        print(f"PostgreSQL not reachable ({type(exc).__name__}); skipping it", file=sys.stderr)
        return False
    return True


async def _pg(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_BASE, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def scratch_pg(name: str) -> str:
    asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}"'))
    asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
    base = PG_BASE.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


def drop_pg(name: str) -> None:
    try:
        asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    except Exception as exc:
        print(f"could not drop {name}: {exc}", file=sys.stderr)


def python_json(module: str, *args: str, env: dict[str, str]) -> Any:
    out = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=procs.ROOT,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(procs.ROOT), **env},
    ).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("BENCH_JSON "))
    return json.loads(line.removeprefix("BENCH_JSON "))


def spectra_env(
    data_dir: Path, db_url: str | None, redis_prefix: str | None = None
) -> dict[str, str]:
    env = {
        "SPECTRA_DATA_DIR": str(data_dir),
        "SPECTRA_LOG_LEVEL": "WARNING",
        "SPECTRA_OWNER_EMAIL": "owner@bench.local",
        "SPECTRA_HOST": "127.0.0.1",
    }
    if db_url:
        env["SPECTRA_DATABASE_URL"] = db_url
    if redis_prefix:
        env["SPECTRA_REDIS_URL"] = REDIS_BASE
        env["SPECTRA_REDIS_PREFIX"] = redis_prefix
    return env


def redis_reachable() -> bool:
    if os.environ.get("BENCH_REDIS") == "0":
        return False
    import redis

    client = redis.Redis.from_url(REDIS_BASE, socket_connect_timeout=2)
    try:
        client.ping()
    except Exception as exc:
        print(f"Redis not reachable ({type(exc).__name__}); skipping it", file=sys.stderr)
        return False
    finally:
        client.close()
    return True


def clear_redis(prefix: str) -> None:
    """Delete every key under `prefix` (this run's; other users of the Redis are untouched)."""
    import redis

    client = redis.Redis.from_url(REDIS_BASE, socket_connect_timeout=2)
    try:
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                client.delete(*batch)
                batch.clear()
        if batch:
            client.delete(*batch)
    except Exception as exc:
        print(f"could not clear Redis prefix {prefix}: {exc}", file=sys.stderr)
    finally:
        client.close()


def wanted(name: str) -> bool:
    return not TARGETS or name in TARGETS


def start_spectra(
    label: str,
    scratch: Path,
    fake: procs.Child,
    db_url: str | None,
    *,
    redis_prefix: str | None = None,
    processes: int = 1,
    running: list[procs.Child] | None = None,
    server: str | None = None,
) -> Target:
    data_dir = scratch / label
    data_dir.mkdir()
    env = spectra_env(data_dir, db_url, redis_prefix)
    if server:
        env["SPECTRA_SERVER"] = server
    world_file = data_dir / "world.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.world",
            "--upstream",
            fake.url,
            "--out",
            str(world_file),
            "--hot-keys",
            str(HOT_KEYS),
        ],
        cwd=procs.ROOT,
        check=True,
        env={**os.environ, "PYTHONPATH": str(procs.ROOT), **env},
    )
    children: list[procs.Child] = []
    for i in range(processes):
        log = scratch / (f"{label}.log" if processes == 1 else f"{label}-{i + 1}.log")
        child = procs.start_spectra(label, env, procs.free_port(), log)
        children.append(child)
        if running is not None:
            running.append(child)
    world = {**json.loads(world_file.read_text()), "data_dir": str(data_dir)}
    return Target(
        label,
        children[0],
        world,
        db_url,
        others=children[1:],
        shared_only=redis_prefix is not None,
    )


def granian_available() -> bool:
    """granian is Spectra's optional server (`pip install 'spectra[granian]'`)."""
    import importlib.util

    if importlib.util.find_spec("granian") is None:
        print("granian is not installed; skipping spectra-sqlite-granian", file=sys.stderr)
        return False
    return True


def start_peers(scratch: Path, fake: procs.Child, running: list[procs.Child]) -> list[Target]:
    """Other gateways on the same fake upstream, driven by the same scenarios: LiteLLM's proxy
    in its lightest mode (bench/peer_litellm.py). Skipped with a note when not wanted, disabled
    (BENCH_LITELLM=0), or when it cannot be installed or started."""
    from bench import peer_litellm

    if not wanted("litellm") or not peer_litellm.enabled():
        return []
    why = peer_litellm.ensure_installed(scratch / "litellm-install.log")
    if why is None:
        try:
            child, key = peer_litellm.start(fake.url, scratch, procs.free_port())
        except RuntimeError as exc:
            why = f"LiteLLM did not start ({exc}; see {scratch / 'litellm.log'})"
        else:
            running.append(child)
            return [Target("litellm", child, key=key)]
    print(f"skipping the litellm target: {why}", file=sys.stderr)
    return []


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # so the children are stopped on the way out


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    t_start = time.monotonic()
    scratch = Path(os.environ.get("BENCH_OUT") or tempfile.mkdtemp(prefix="spectra-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    if not loadgen.wrk_available():
        sys.exit("wrk is not installed (make bench installs it with apt-get)")
    load0 = os.getloadavg()
    use_pg = pg_reachable()  # also for the report and ledger side benchmarks
    use_redis = use_pg and any(wanted(n) for n in REDIS_TARGETS) and redis_reachable()
    redis_prefix = f"spectra-bench:{os.getpid()}:"
    pg_dbs: list[str] = []
    rows: list[Row] = []
    if use_redis:
        clear_redis(redis_prefix)
    with contextlib.ExitStack() as cleanup, procs.children() as running:
        if use_redis:
            cleanup.callback(clear_redis, redis_prefix)
        fake = procs.start_module(
            "direct", "bench.fake", marker="BENCH_FAKE_URL", log=scratch / "fake.log"
        )
        running.append(fake)
        targets: list[Target] = []
        if wanted("direct"):
            targets.append(Target("direct", fake))
        if wanted("bare"):
            bare = procs.start_module(
                "bare",
                "bench.bare_proxy",
                "--upstream",
                fake.url,
                marker="BENCH_BARE_URL",
                log=scratch / "bare.log",
            )
            running.append(bare)
            targets.append(Target("bare", bare))
        targets += start_peers(scratch, fake, running)
        if wanted("spectra-sqlite"):
            targets.append(start_spectra("spectra-sqlite", scratch, fake, None, running=running))
        if wanted("spectra-sqlite-granian") and granian_available():
            targets.append(
                start_spectra(
                    "spectra-sqlite-granian",
                    scratch,
                    fake,
                    None,
                    running=running,
                    server="granian",
                )
            )
        pg_targets: list[tuple[str, str | None, int]] = [("spectra-pg", None, 1)]
        if use_redis:
            # One Redis prefix per deployment, both under this run's prefix (cleared at the end).
            pg_targets.append(("spectra-pg-redis", f"{redis_prefix}one:", 1))
            pg_targets.append(("spectra-pg-redis-x2", f"{redis_prefix}two:", 2))
        for label, prefix, count in pg_targets:
            if not use_pg or not wanted(label):
                continue
            name = f"spectra_bench_{os.getpid()}" + label.removeprefix("spectra-pg").replace(
                "-", "_"
            )
            pg_dbs.append(name)
            targets.append(
                start_spectra(
                    label,
                    scratch,
                    fake,
                    scratch_pg(name),
                    redis_prefix=prefix,
                    processes=count,
                    running=running,
                )
            )
        print(f"setup done in {time.monotonic() - t_start:.0f} s; running scenarios", flush=True)
        warm = Scenario("warm-up", "/v1/chat/completions", chat(False), 16)
        body_file = scratch / "warm.json"
        body_file.write_text(json.dumps(warm.body))
        for target in targets:
            header, value, _ = target.auth(warm)
            records0 = target.records()
            warmed = 0
            for child in target.processes:
                warmed += loadgen.run_wrk(
                    child.url + warm.path,
                    body_file=body_file,
                    header=header,
                    value=value,
                    connections=16,
                    seconds=1,
                ).requests
            if records0 is not None:
                # So the warm-up's backlog is not counted as the first scenario's settling.
                drain(target, records0, warmed)
        for scenario in SCENARIOS:
            if ONLY and not any(w in scenario.name for w in ONLY):
                continue
            for target in targets:
                if not target.runs(scenario):
                    continue
                busy = quiet(targets)
                row = measure(target, scenario, scratch)
                if busy:
                    row.note = "; ".join(n for n in (row.note, busy) if n)
                rows.append(row)
                print(
                    f"  {row.scenario:28} {row.target:19} rps={fmt(row.rps, 0):>7} "
                    f"p50={fmt(row.p50)} p99={fmt(row.p99)} ttfb={fmt(row.ttfb50)} "
                    f"gap99={fmt(row.gap99)} cpu={fmt(row.cpu_ms, 3)} rss={fmt(row.rss_mb, 0)}",
                    flush=True,
                )
                time.sleep(0.5)
    ratios(rows)
    if not ONLY or any(w in ("reports", "ledger") for w in ONLY):
        rows += side_benchmarks(scratch, use_pg, pg_dbs)
    if not ONLY or "crash" in ONLY:
        rows += crash_benchmarks(scratch, use_pg, pg_dbs)
    for name in pg_dbs:
        drop_pg(name)
    load1 = os.getloadavg()
    text = table(rows)
    print()
    print(text)
    print(
        f"\nload average before {load0[0]:.2f}, after {load1[0]:.2f}; "
        f"{os.cpu_count()} CPUs; {time.monotonic() - t_start:.0f} s; raw: {scratch}/results.json"
    )
    (scratch / "table.md").write_text(text + "\n")
    (scratch / "results.json").write_text(
        json.dumps(
            {"rows": [r.__dict__ for r in rows], "load": [load0, load1], "records": RECORDS},
            indent=1,
        )
    )


def side_benchmarks(scratch: Path, use_pg: bool, pg_dbs: list[str]) -> list[Row]:
    rows: list[Row] = []
    dbs: list[tuple[str, str]] = [("sqlite", f"sqlite+aiosqlite:///{scratch / 'reports.db'}")]
    if use_pg:
        name = f"spectra_bench_reports_{os.getpid()}"
        pg_dbs.append(name)
        dbs.append(("pg", scratch_pg(name)))
    for label, url in dbs:
        if not ONLY or "reports" in ONLY:
            data = python_json(
                "bench.reports",
                "--records",
                str(RECORDS),
                env=spectra_env(scratch / f"reports-{label}", url),
            )
            rows.append(
                Row(
                    f"seed {data['records']:,} usage records",
                    label,
                    rps=data["seed_per_s"],
                    note=f"{data['seed_s']:.1f} s",
                )
            )
            rows.append(
                Row(
                    "rollup job",
                    label,
                    rps=data["rollup_per_s"],
                    note=f"{data['rollup_s']:.1f} s, {data['rollup_rows']:,} rollup rows",
                )
            )
            for name, ms in data["reports_ms"].items():
                rows.append(
                    Row(
                        f"report: {name}",
                        label,
                        p50=ms[0],
                        p99=ms[1],
                        note="median / max of 5; target < 300 ms",
                    )
                )
        if not ONLY or "ledger" in ONLY:
            ledger_url = url.replace("reports", "ledger") if label == "sqlite" else None
            if label == "pg":
                name = f"spectra_bench_ledger_{os.getpid()}"
                pg_dbs.append(name)
                ledger_url = scratch_pg(name)
            data = python_json(
                "bench.ledger",
                "--count",
                str(2_000 if QUICK else 5_000),
                "--window",
                str(15 if QUICK else 30),
                env=spectra_env(scratch / f"ledger-{label}", ledger_url),
            )
            rows.append(
                Row("ledger: admit+hold+settle in-process", label, rps=data["in_process_per_s"])
            )
            rows.append(
                Row(
                    "ledger: settled records into DB",
                    label,
                    rps=data["durable_per_s"],
                    note=f"{data['written']:,} of {data['count']:,} written in the window; "
                    f"{data['batches']} batches; target "
                    f"{'5,000' if label == 'sqlite' else '10,000'}/s",
                )
            )
    return rows


def crash_benchmarks(scratch: Path, use_pg: bool, pg_dbs: list[str]) -> list[Row]:
    """`kill -9` of `spectra serve` under c16 load (bench/crash.py), SQLite and PostgreSQL:
    requests in flight and completed answers not yet written at the kill, and whether the
    restart's journal replay left every completed answer charged and the ledger verified."""
    rows: list[Row] = []
    dbs: list[tuple[str, str | None]] = [("sqlite", None)]
    if use_pg:
        name = f"spectra_bench_crash_{os.getpid()}"
        pg_dbs.append(name)
        dbs.append(("pg", scratch_pg(name)))
    for label, url in dbs:
        data = python_json(
            "bench.crash",
            "--seconds",
            str(4 if QUICK else 10),
            env=spectra_env(scratch / f"crash-{label}", url),
        )
        verdict = "every completed answer charged" if data["ok"] else "**CHARGES LOST**"
        rows.append(
            Row(
                "crash: kill -9 under load c16",
                label,
                errors=data["missing_after_restart"] + data["uncharged_after_restart"],
                note=f"{data['completed_before_kill']:,} answers completed, "
                f"{data['in_flight_at_kill']} in flight and {data['unsettled_at_kill']} "
                f"completed but not yet in the database at the kill; after restart: "
                f"{data['missing_after_restart']} missing, {data['uncharged_after_restart']} "
                f"uncharged, ledger verify {'ok' if data['ledger_verify_ok'] else 'FAILED'}; "
                f"{verdict}",
            )
        )
    return rows


if __name__ == "__main__":
    main()
