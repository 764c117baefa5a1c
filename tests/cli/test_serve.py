"""`spectra serve` as a person runs it: first start prints how to sign in, once; health and
readiness answer; a second process on the same database refuses with one sentence."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from tests.cli.conftest import free_port, wait_ready


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRA_")}
    env["SPECTRA_DATA_DIR"] = str(data_dir)
    return env


@pytest.mark.slow
def test_first_start_prints_sign_in_once_and_a_second_server_refuses(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_file = tmp_path / "server.log"
    with log_file.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "spectra", "serve", "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=_env(tmp_path),
        )
    try:
        wait_ready(base, proc)
        assert httpx.get(f"{base}/healthz").json()["status"] == "ok"
        second = subprocess.run(
            [sys.executable, "-m", "spectra", "serve", "--port", str(free_port())],
            capture_output=True,
            text=True,
            env=_env(tmp_path),
            timeout=60,
            check=False,
        )
        assert second.returncode != 0
        assert "Another Spectra process" in second.stderr
        assert "Traceback" not in second.stderr
        assert "/console/setup" not in second.stdout, (
            "the setup link is printed only on first start"
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    # uvicorn shuts down gracefully, then re-raises SIGTERM as its exit status.
    assert proc.returncode in (0, -signal.SIGTERM)
    assert "Traceback" not in log_file.read_text()
    link = next(line.strip() for line in out.splitlines() if "/console/setup?token=" in line)
    token = link.rsplit("=", 1)[-1]
    assert len(token) >= 20
    assert token not in log_file.read_text(), "the setup link must never reach the log"


def test_more_than_one_worker_is_refused_with_a_sentence(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "spectra", "serve", "--workers", "2"],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "Redis" in result.stderr
    assert "Traceback" not in result.stderr
