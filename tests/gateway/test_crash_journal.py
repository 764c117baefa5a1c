"""`kill -9` under load loses no charge: a real `spectra serve` process, killed while the group
committer still holds the settlements of answers it has sent, restarts, replays its settlement
journal, and every request whose answer the client received whole has its usage record and its
charge; `spectra ledger verify` passes. On SQLite, and on PostgreSQL when the suite runs on it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.cli.conftest import free_port
from tests.conftest import CHECKOUT_TAG, PG_URL, _make_pg_database
from tests.fakes.upstream import FakeUpstream, Reply

from spectra.config import Settings
from spectra.db import migrate
from spectra.kit import crypto
from spectra.runtime import build_runtime, close_runtime

from .world import ANTHROPIC_MODEL, OPENAI_MODEL, UPSTREAM_KEY, World, build_world

REPO = Path(__file__).resolve().parents[2]
# Its `spectra serve` runs on the PostgreSQL test server when there is one.
pytestmark = [pytest.mark.slow, pytest.mark.database]


class Serve:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "spectra", "serve", "--port", str(self.port)],
                env=self.env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    async def ready(self, within: float = 120) -> bool:
        """True once it serves; False when it exited (e.g. the dead one's lease still holds)."""
        assert self.proc is not None
        deadline = time.monotonic() + within
        async with httpx.AsyncClient() as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    return False
                try:
                    if (await http.get(f"{self.url}/readyz", timeout=2)).status_code == 200:
                        return True
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"spectra serve did not start: {self.log.read_text()[-3000:]}")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


async def _database(tmp_path: Path) -> str:
    if PG_URL:
        name = f"spectra_crash_{CHECKOUT_TAG}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
        url = await _make_pg_database(PG_URL, name)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'spectra.db'}"
    return url


async def _ask(http: httpx.AsyncClient, url: str, world: World, n: int) -> tuple[str, str] | None:
    """One request; (request id, protocol) when the answer arrived whole, else None."""
    stream = n % 2 == 0
    if n % 3 == 0:
        path, headers = "/v1/messages", world.headers(anthropic=True)
        body: dict[str, Any] = {"model": ANTHROPIC_MODEL, "max_tokens": 50}
    else:
        path, headers = "/v1/chat/completions", world.headers()
        body = {"model": OPENAI_MODEL, "max_tokens": 50}
    body |= {"stream": stream, "messages": [{"role": "user", "content": f"hi {n}"}]}
    try:
        resp = await http.post(f"{url}{path}", headers=headers, json=body, timeout=60)
        text = resp.text  # the whole body, to its last byte
    except httpx.HTTPError:
        return None
    if resp.status_code != 200:
        return None
    done = ("message_stop" in text or "[DONE]" in text) if stream else bool(json.loads(text))
    return (resp.headers["x-spectra-request-id"], path) if done else None


def _ledger_verify(env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "spectra", "ledger", "verify", "--json"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    result: dict[str, Any] = json.loads(done.stdout)
    return result


async def test_kill_9_under_load_loses_no_completed_charge(tmp_path: Path) -> None:
    url = await _database(tmp_path)
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    await migrate.upgrade(url)
    secret = crypto.new_server_secret().hex()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRA_")}
    env |= {
        "SPECTRA_DATABASE_URL": url,
        "SPECTRA_SECRET_KEY": secret,
        "SPECTRA_DATA_DIR": str(data),
        "SPECTRA_LOG_LEVEL": "WARNING",
        "SPECTRA_AUTO_MIGRATE": "false",
        # The committer holds settlements for up to a minute: every answer sent before the
        # kill is still uncommitted, exactly the window a crash used to lose.
        "SPECTRA_COMMIT_MAX_DELAY": "60",
        "SPECTRA_LEASE_TTL_SECONDS": "2",
    }
    runtime = await build_runtime(
        Settings(database_url=url, data_dir=data, secret_key=secret, auto_migrate=False)
    )
    server = Serve(env, tmp_path / "serve.log")
    try:
        async with FakeUpstream(
            api_key=UPSTREAM_KEY, default=Reply(text="a b c d", pieces=4, input_tokens=30)
        ) as fake:
            world = await build_world(runtime)
            for name, provider, models in (
                ("anthropic-a", "anthropic", ["claude-*"]),
                ("openai-a", "openai", ["gpt-*"]),
            ):
                await world.add_account(name, provider=provider, base_url=fake.url, models=models)
            await world.recharge("10")
            wallet = await world.wallet_id()
            server.start()
            assert await server.ready(), server.log.read_text()[-3000:]
            async with httpx.AsyncClient() as http:
                answers = await asyncio.gather(
                    *(_ask(http, server.url, world, n) for n in range(40))
                )
                # Answers still arriving when the process dies are not counted as completed.
                fake.script(*[Reply(text="slow " * 20, pieces=20, chunk_delay=1.0)] * 5)
                late = [
                    asyncio.ensure_future(_ask(http, server.url, world, 2 * n)) for n in range(5)
                ]
                await asyncio.sleep(0.5)
                server.kill9()
                late_answers = await asyncio.gather(*late)
            completed = [a for a in (*answers, *late_answers) if a is not None]
            assert len(completed) >= 40
            lost_before = {r.request_id for r in await world.records()}
            journal = list((data / "journal").glob("settle-*.jsonl"))
            assert journal, "the killed process left its journal"
            assert not {rid for rid, _ in completed} <= lost_before, (
                "the committer had written everything: the test did not exercise the crash"
            )

            # Restart: the dead process's lease expires within 2 s; until then a start refuses.
            deadline = time.monotonic() + 120
            while True:
                server.start()
                if await server.ready():
                    break
                assert time.monotonic() < deadline, server.log.read_text()[-3000:]
                await asyncio.sleep(0.5)
            records = {r.request_id: r for r in await world.records()}
            for request_id, _ in completed:
                record = records.get(request_id)
                assert record is not None, f"{request_id}: answered, but no usage record"
                assert record.status == "ok"
                assert record.cost_micros > 0
                assert record.ledger_transaction_id is not None
            charged = sum(r.cost_micros for r in records.values())
            assert await world.balance(wallet) == 10_000_000 - charged
            assert not any(p.exists() for p in journal), "a replayed journal is deleted"
            server.stop()
            assert _ledger_verify(env)["ok"] is True
    finally:
        server.stop()
        await close_runtime(runtime)
