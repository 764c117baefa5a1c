"""`spectra serve` keeps its behaviour on either HTTP server (uvicorn, the default, and the
optional granian): a stream reaches the client event by event while the upstream is still
producing it, a stream in flight when SIGTERM arrives finishes and is charged, and the lifespan
runs (ready, then the serve lease released so the next start succeeds)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from tests.cli.conftest import free_port, wait_ready

from bench import procs, run

SERVERS = [
    "uvicorn",
    pytest.param(
        "granian",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("granian") is None, reason="granian is not installed"
        ),
    ),
]


def _env(data_dir: Path, server: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRA_")}
    env.update(
        {
            "SPECTRA_DATA_DIR": str(data_dir),
            "SPECTRA_SERVER": server,
            "SPECTRA_OWNER_EMAIL": "owner@serve.test",
            "PYTHONPATH": str(procs.ROOT),
        }
    )
    return env


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[str]:
    """The bench's fake upstream (OpenAI and Anthropic shapes, delays between events)."""
    with procs.children() as running:
        fake = procs.start_module(
            "fake", "bench.fake", marker="BENCH_FAKE_URL", log=tmp_path / "fake.log"
        )
        running.append(fake)
        yield fake.url


def _seed(data_dir: Path, server: str, upstream: str) -> str:
    """A funded member key on an account that points at `upstream` (bench/world.py)."""
    out = data_dir / "world.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.world",
            "--upstream",
            upstream,
            "--out",
            str(out),
            "--hot-keys",
            "0",
        ],
        cwd=procs.ROOT,
        check=True,
        env=_env(data_dir, server),
        timeout=120,
        capture_output=True,
    )
    return str(json.loads(out.read_text())["key"])


def _start(data_dir: Path, server: str, port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "spectra", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=(data_dir / f"serve-{port}.log").open("w"),
        text=True,
        env=_env(data_dir, server),
    )
    try:
        # A first start migrates a new database: minutes on a 2-core box running other suites.
        wait_ready(f"http://127.0.0.1:{port}", proc, deadline=300)
    except BaseException:
        proc.kill()  # a server that never became ready must not outlive the test
        proc.wait(10)
        raise
    return proc


def _records(data_dir: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(data_dir / "spectra.db", timeout=30)
    try:
        return int(conn.execute("SELECT count(*) FROM usage_records").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.parametrize("server", SERVERS)
def test_a_stream_in_flight_at_sigterm_finishes_unbuffered_and_is_charged(
    tmp_path: Path, upstream: str, server: str
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    key = _seed(data_dir, server, upstream)
    port = free_port()
    proc = _start(data_dir, server, port)
    # 20 events 100 ms apart: about 2 s of stream, and SIGTERM once the first event is in.
    body = run.chat(True, delay=100)

    async def stream() -> tuple[int, list[float], bytes]:
        arrivals: list[float] = []
        parts: list[bytes] = []
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"http://127.0.0.1:{port}/v1/chat/completions",
                json=body,
                headers={"authorization": f"Bearer {key}"},
            ) as resp,
        ):
            async for chunk in resp.content.iter_any():
                if not arrivals:
                    proc.send_signal(signal.SIGTERM)
                arrivals.append(time.monotonic())
                parts.append(chunk)
            return resp.status, arrivals, b"".join(parts)

    try:
        status, arrivals, raw = asyncio.run(stream())
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert status == 200
    assert raw.rstrip().endswith(b"data: [DONE]"), raw[-200:]
    # Unbuffered: the events arrived spread over the stream's life, not in one burst at the end.
    assert len(arrivals) >= 10
    assert arrivals[-1] - arrivals[0] > 1.0
    assert code in (0, -signal.SIGTERM)
    log = (data_dir / f"serve-{port}.log").read_text()
    assert "Traceback" not in log
    assert _records(data_dir) == 1, "the stream finished after SIGTERM is charged"
    # The lifespan's shutdown ran: the serve lease is released, a new start on the same
    # database succeeds at once.
    again = _start(data_dir, server, free_port())
    again.send_signal(signal.SIGTERM)
    assert again.wait(timeout=60) in (0, -signal.SIGTERM)


def test_an_unknown_server_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "spectra", "serve", "--server", "gunicorn"],
        capture_output=True,
        text=True,
        env=_env(tmp_path, "uvicorn"),
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "gunicorn" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("server", SERVERS)
def test_forwarded_for_from_localhost_is_not_believed(tmp_path: Path, server: str) -> None:
    """Neither server applies X-Forwarded-For itself (the app does, for SPECTRA_TRUSTED_PROXIES
    only): sign-in attempts that each claim a new address still reach the per-address limit,
    and every answer carries the app's request id."""
    import httpx

    port = free_port()
    proc = _start(tmp_path, server, port)
    try:
        answers = [
            httpx.post(
                f"http://127.0.0.1:{port}/api/auth/login",
                json={"email": f"spray{n}@example.com", "password": "not the password"},
                headers={"x-forwarded-for": f"203.0.113.{n}"},
                timeout=30,
            )
            for n in range(21)
        ]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert answers[-1].status_code == 429, [a.status_code for a in answers]
    assert all(a.headers.get("x-request-id") for a in answers)
