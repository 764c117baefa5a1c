"""CPU time per request of the gateway's in-memory request path, in process.

The ASGI app (`create_app`, the same stack `spectra serve` runs, minus uvicorn) is called
directly with uvicorn-shaped scopes, N requests per scenario, one after another (or
`--concurrency` at a time). The upstream is bench/fake.py in a child process, so this
process's CPU is the gateway's work plus the aiohttp client. Settlement is a no-op: the real
`Settler` runs (hold settled, record built, spend counted, view updated as if written) but the
group committer does not write, so the number is the request path alone, not the ledger.

    PYTHONPATH=. .venv/bin/python -m bench.hotpath                # all scenarios, SQLite scratch
    PYTHONPATH=. .venv/bin/python -m bench.hotpath -n 5000 --only chat,chat-stream
    PYTHONPATH=. .venv/bin/python -m bench.hotpath --profile chat   # cProfile, top 40 by tottime
    PYTHONPATH=. .venv/bin/python -m bench.hotpath --redis redis://127.0.0.1:6379/0 --only chat

With `--redis URL` the runtime shares its hot-path state (holds, limits, budgets, affinity) in
that Redis, as `spectra serve` does with SPECTRA_REDIS_URL, under a key prefix of its own that is
deleted afterwards (never the whole database): the CPU figure then includes redis-py's work.

Prints one line per scenario: CPU µs/request (time.process_time: the least and the median of
the rounds; less sensitive to a shared machine than wall time, the least the least so) and
wall µs/request.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench import procs, world
from spectra.db import batch

Message = dict[str, Any]
App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


@dataclass(frozen=True)
class Scenario:
    name: str
    path: str
    body: bytes
    headers: list[tuple[bytes, bytes]]


def scenarios(key: str, broke_key: str) -> list[Scenario]:
    prompt = [{"role": "user", "content": "Say something about foxes and dogs, briefly."}]
    openai = [
        (b"authorization", f"Bearer {key}".encode()),
        (b"user-agent", b"OpenAI/Python 1.54.0"),
    ]
    anthropic = [
        (b"x-api-key", key.encode()),
        (b"anthropic-version", b"2023-06-01"),
        (b"user-agent", b"claude-cli/1.0.0 (external, cli)"),
    ]

    def chat(stream: bool, model: str = world.OPENAI_MODEL) -> bytes:
        return json.dumps(
            {"model": model, "messages": prompt, "max_tokens": 256, "stream": stream}
        ).encode()

    def messages(stream: bool, model: str = world.ANTHROPIC_MODEL) -> bytes:
        return json.dumps(
            {"model": model, "messages": prompt, "max_tokens": 256, "stream": stream}
        ).encode()

    def responses(stream: bool, model: str = world.OPENAI_MODEL) -> bytes:
        return json.dumps(
            {"model": model, "input": prompt, "max_output_tokens": 256, "stream": stream}
        ).encode()

    broke = [(b"authorization", f"Bearer {broke_key}".encode())]
    return [
        Scenario("chat", "/v1/chat/completions", chat(False), openai),
        Scenario("chat-stream", "/v1/chat/completions", chat(True), openai),
        Scenario("messages", "/v1/messages", messages(False), anthropic),
        Scenario("messages-stream", "/v1/messages", messages(True), anthropic),
        Scenario("refusal", "/v1/chat/completions", chat(False), broke),
        # Translated: the model is served only by an account of the other protocol.
        Scenario("chat>msgs", "/v1/chat/completions", chat(False, world.ANTHROPIC_MODEL), openai),
        Scenario(
            "chat>msgs-stream", "/v1/chat/completions", chat(True, world.ANTHROPIC_MODEL), openai
        ),
        Scenario("msgs>chat", "/v1/messages", messages(False, world.COMPAT_MODEL), anthropic),
        Scenario("msgs>chat-stream", "/v1/messages", messages(True, world.COMPAT_MODEL), anthropic),
        Scenario("msgs>resp-stream", "/v1/messages", messages(True, world.OPENAI_MODEL), anthropic),
        # A Responses client (Codex), untranslated and on a Claude account.
        Scenario("responses-stream", "/v1/responses", responses(True), openai),
        Scenario(
            "resp>msgs-stream", "/v1/responses", responses(True, world.ANTHROPIC_MODEL), openai
        ),
        # A `bedrock` account: the Messages body rewritten for InvokeModel and SigV4-signed per
        # request (botocore), the stream decoded from AWS event-stream framing.
        Scenario("bedrock", "/v1/messages", messages(False, world.BEDROCK_MODEL), anthropic),
        Scenario("bedrock-stream", "/v1/messages", messages(True, world.BEDROCK_MODEL), anthropic),
    ]


class _NoopCommitter:
    """Runs settlement work at once against a stand-in session whose batch writes (`defer`)
    are queued and dropped: the settler's own code runs, the database is not touched."""

    depth = 0
    last_lag = 0.0

    def submit_nowait(self, work: Any) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        session = SimpleNamespace(info={batch._DEFERRED: {}})
        coro = work(session)
        try:
            coro.send(None)
        except StopIteration as done:
            future.set_result(done.value)
        else:
            coro.close()
            raise RuntimeError("settlement work waited on something: not a no-op any more")
        return future


async def one_request(app: App, scenario: Scenario, counter: list[int]) -> int:
    """Send one request the way uvicorn would; returns the response status."""
    loop = asyncio.get_running_loop()
    finished = loop.create_future()
    sent_body = False
    status = 0

    async def receive() -> Message:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": scenario.body, "more_body": False}
        await finished
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif (
            message["type"] == "http.response.body"
            and not message.get("more_body", False)
            and not finished.done()
        ):
            finished.set_result(None)

    counter[0] += 1
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": scenario.path,
        "raw_path": scenario.path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1:8080"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(scenario.body)).encode()),
            *scenario.headers,
        ],
        "client": ("127.0.0.1", 40000 + counter[0] % 20000),
        "server": ("127.0.0.1", 8080),
        "state": {},
    }
    await app(scope, receive, send)
    if not finished.done():
        finished.set_result(None)
    return status


async def drive(app: App, scenario: Scenario, count: int, concurrency: int) -> list[int]:
    counter = [0]
    statuses: list[int] = []

    async def worker(n: int) -> None:
        for _ in range(n):
            statuses.append(await one_request(app, scenario, counter))

    share, extra = divmod(count, concurrency)
    await asyncio.gather(*(worker(share + (i < extra)) for i in range(concurrency)))
    return statuses


async def run(args: argparse.Namespace, scratch: Path) -> None:
    from spectra import logs
    from spectra.app import create_app
    from spectra.config import reset_settings
    from spectra.gateway import wiring as gateway_wiring
    from spectra.runtime import build_runtime, close_runtime

    fake = procs.start_module("fake", "bench.fake", "--port", "0", marker="BENCH_FAKE_URL")
    try:
        out = scratch / "world.json"
        await world.seed(fake.url, out, hot_keys=0, hot_members=0)
        seeded = json.loads(out.read_text())
        logs.configure("WARNING")
        runtime = await build_runtime(reset_settings())
        try:
            await runtime.start(run_jobs=False)
            gw = gateway_wiring.current()
            assert gw is not None
            gw.settler.committer = _NoopCommitter()  # type: ignore[assignment]
            app: App = create_app(runtime)
            wanted = [s for s in (args.only or "").split(",") if s]
            chosen = [
                s
                for s in scenarios(seeded["key"], seeded["broke_key"])
                if (not wanted or s.name in wanted)
                and (args.profile is None or s.name == args.profile)
            ]
            print(
                f"{'scenario':<16} {'cpu min':>10} {'cpu median':>10} {'wall median':>11}   "
                f"(µs/request; n={args.n}, c={args.concurrency}, {args.rounds} rounds)",
                flush=True,
            )
            for scenario in chosen:
                bad = [s for s in await drive(app, scenario, args.warmup, 1) if s >= 400]
                expect_refusal = scenario.name == "refusal"
                if bool(bad) != expect_refusal:
                    raise SystemExit(f"{scenario.name}: unexpected statuses {sorted(set(bad))}")
                if args.profile is not None:
                    profiler = cProfile.Profile(time.thread_time)
                    profiler.enable()
                    await drive(app, scenario, args.n, args.concurrency)
                    profiler.disable()
                    stats = pstats.Stats(profiler).strip_dirs().sort_stats(args.sort)
                    stats.print_stats(40)
                    if args.dump:
                        profiler.dump_stats(args.dump)
                    continue
                cpu: list[float] = []
                wall: list[float] = []
                for _ in range(args.rounds):
                    await asyncio.sleep(0.05)
                    c0, w0 = time.process_time(), time.perf_counter()
                    await drive(app, scenario, args.n, args.concurrency)
                    c1, w1 = time.process_time(), time.perf_counter()
                    cpu.append((c1 - c0) / args.n * 1e6)
                    wall.append((w1 - w0) / args.n * 1e6)
                print(
                    f"{scenario.name:<16} {min(cpu):>10.0f} {statistics.median(cpu):>10.0f} "
                    f"{statistics.median(wall):>11.0f}",
                    flush=True,
                )
        finally:
            await close_runtime(runtime)
    finally:
        fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--concurrency", "-c", type=int, default=1)
    parser.add_argument("--only", help="comma-separated scenario names")
    parser.add_argument("--profile", metavar="SCENARIO", help="cProfile one scenario instead")
    parser.add_argument("--sort", default="tottime", help="pstats sort key with --profile")
    parser.add_argument("--dump", help="with --profile, also write the pstats file here")
    parser.add_argument("--redis", metavar="URL", help="share hot-path state in this Redis")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="spectra-hotpath-"))
    os.environ["SPECTRA_DATA_DIR"] = str(scratch)  # a scratch SQLite database
    os.environ.pop("SPECTRA_DATABASE_URL", None)
    os.environ["SPECTRA_LOG_LEVEL"] = "WARNING"
    os.environ["SPECTRA_OWNER_EMAIL"] = "owner@bench.local"
    prefix = f"spectra-hotpath:{os.getpid()}:{time.time_ns()}:"
    if args.redis:
        os.environ["SPECTRA_REDIS_URL"] = args.redis
        os.environ["SPECTRA_REDIS_PREFIX"] = prefix
    else:
        os.environ.pop("SPECTRA_REDIS_URL", None)
    import uvloop

    uvloop.install()
    try:
        asyncio.run(run(args, scratch))
    finally:
        if args.redis:
            _delete_prefix(args.redis, prefix)


def _delete_prefix(url: str, prefix: str) -> None:
    """Delete this run's keys (a SCAN of its own prefix; other users of the Redis keep theirs)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        batch_keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for i in range(0, len(batch_keys), 1000):
            client.delete(*batch_keys[i : i + 1000])
    finally:
        client.close()


if __name__ == "__main__":
    main()
