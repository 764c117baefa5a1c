"""Several real `spectra serve` processes on one PostgreSQL database and one Redis, for the
scale-out tests: a fresh database per cluster, the fake upstream served by the test, and a
workspace built through the real services (`tests.gateway.world`)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from tests.conftest import CHECKOUT_TAG, PG_URL, _make_pg_database
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway.world import UPSTREAM_KEY, World, build_world
from tests.support.redis import delete_prefix, free_port, new_prefix

from spectra.config import Settings
from spectra.db import migrate
from spectra.kit import crypto
from spectra.runtime import Runtime, build_runtime, close_runtime

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@dataclass
class Cluster:
    database_url: str
    redis_url: str
    redis_prefix: str
    env: dict[str, str]
    workdir: Path
    runtime: Runtime
    world: World
    fake: FakeUpstream
    servers: list[Server] = field(default_factory=list)

    def start_server(self) -> Server:
        port = free_port()
        log = self.workdir / f"serve-{port}.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "spectra", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=self.env,
            cwd=REPO,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        server = Server(port, proc, log)
        self.servers.append(server)
        return server

    async def wait_ready(self, server: Server, within: float = 60.0) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient() as http:
            while time.monotonic() < deadline:
                if server.proc.poll() is not None:
                    raise RuntimeError(f"spectra serve exited: {server.log.read_text()[-2000:]}")
                try:
                    if (await http.get(f"{server.url}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"spectra serve did not start: {server.log.read_text()[-2000:]}")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "spectra", *args],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )


@asynccontextmanager
async def cluster(
    workdir: Path,
    *,
    redis_url: str,
    default: Reply | None = None,
    settings: dict[str, str] | None = None,
    extra_env: dict[str, str] | None = None,
) -> AsyncIterator[Cluster]:
    """A fresh database with a member, a key, priced models and pool accounts on the fake."""
    assert PG_URL, "cluster tests need PostgreSQL (postgres_only)"
    name = f"spectra_cluster_{CHECKOUT_TAG}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    url = await _make_pg_database(PG_URL, name)
    await migrate.upgrade(url)
    secret = crypto.new_server_secret().hex()
    prefix = new_prefix()
    env = {
        **os.environ,
        "SPECTRA_DATABASE_URL": url,
        "SPECTRA_REDIS_URL": redis_url,
        "SPECTRA_REDIS_PREFIX": prefix,
        "SPECTRA_SECRET_KEY": secret,
        "SPECTRA_DATA_DIR": str(workdir / "data"),
        "SPECTRA_LOG_LEVEL": "WARNING",
        "SPECTRA_AUTO_MIGRATE": "false",
        **(extra_env or {}),
    }
    env.pop("SPECTRA_CONFIG", None)
    local = Settings(
        database_url=url,
        data_dir=workdir / "data",
        secret_key=secret,
        auto_migrate=False,
    )
    runtime = await build_runtime(local)
    try:
        async with FakeUpstream(api_key=UPSTREAM_KEY, default=default) as fake:
            world = await build_world(runtime)
            await world.add_account(
                "anthropic-a", provider="anthropic", base_url=fake.url, models=["claude-*"]
            )
            await world.add_account(
                "openai-a", provider="openai", base_url=fake.url, models=["gpt-*"]
            )
            if settings:
                await _set_settings(runtime, settings)
            group = Cluster(url, redis_url, prefix, env, workdir, runtime, world, fake)
            try:
                yield group
            finally:
                for server in group.servers:
                    server.stop()
    finally:
        await close_runtime(runtime)
        delete_prefix(redis_url, prefix)


async def _set_settings(runtime: Runtime, values: dict[str, str]) -> None:
    from spectra.audit.actor import local_actor
    from spectra.db.session import session_scope
    from spectra.workspace import service as workspace_service

    async with session_scope(runtime.db) as session:
        for key, value in values.items():
            await workspace_service.set_setting(session, local_actor(), name=key, value=value)


def chat_body(max_tokens: int = 100, *, stream: bool = False) -> dict[str, Any]:
    return {
        "model": "gpt-5",
        "max_tokens": max_tokens,
        "stream": stream,
        "messages": [{"role": "user", "content": f"ping {uuid.uuid4().hex[:4]}"}],
    }
