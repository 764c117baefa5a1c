"""`spectra serve` as a person runs it: first start prints how to sign in, once; health and
readiness answer; a second process on the same database refuses with one sentence."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from tests.cli.conftest import free_port, wait_ready

from spectra import bootstrap


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
    # stdout is a pipe here, as under systemd: the link is in a 0600 file, not in the output
    assert "/console/setup?token=" not in out
    link_file = tmp_path / "owner-setup-link.txt"
    assert str(link_file) in out
    assert stat.S_IMODE(link_file.stat().st_mode) == 0o600
    text = link_file.read_text()
    link = next(line.strip() for line in text.splitlines() if "/console/setup?token=" in line)
    token = link.rsplit("=", 1)[-1]
    assert len(token) >= 20
    assert token not in log_file.read_text(), "the setup link must never reach the log"


def test_on_a_terminal_the_setup_link_is_printed_and_no_file_is_written(tmp_path: Path) -> None:
    lines = ["First start: ...", "  http://127.0.0.1:8080/console/setup?token=abc"]
    leader, follower = os.openpty()
    try:
        with os.fdopen(follower, "w", closefd=False) as terminal:
            shown = bootstrap.announce(lines, data_dir=tmp_path, stdout=terminal)
    finally:
        os.close(leader)
        os.close(follower)
    assert shown == lines
    assert not (tmp_path / bootstrap.SETUP_LINK_FILE).exists()


def test_off_a_terminal_the_setup_link_goes_to_a_private_file(tmp_path: Path) -> None:
    lines = ["First start: ...", "  http://127.0.0.1:8080/console/setup?token=abc"]
    read_end, write_end = os.pipe()
    try:
        with os.fdopen(write_end, "w", closefd=False) as pipe:
            shown = bootstrap.announce(lines, data_dir=tmp_path / "data", stdout=pipe)
    finally:
        os.close(read_end)
        os.close(write_end)
    path = tmp_path / "data" / bootstrap.SETUP_LINK_FILE
    assert "token=abc" not in "\n".join(shown)
    assert any(str(path) in line for line in shown)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "token=abc" in path.read_text()


def _refused(tmp_path: Path, *args: str) -> str:
    """`spectra serve ARGS` exits 2 with one sentence (no traceback); the sentence."""
    result = subprocess.run(
        [sys.executable, "-m", "spectra", "serve", *args],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    return result.stderr


def test_more_than_one_worker_is_refused_with_a_sentence(tmp_path: Path) -> None:
    assert "Redis" in _refused(tmp_path, "--workers", "2")


@pytest.mark.slow
def test_the_server_ignores_forwarded_for_from_localhost_by_default(tmp_path: Path) -> None:
    """uvicorn alone would believe X-Forwarded-For from 127.0.0.1: each sign-in attempt could
    then claim a new address and never reach the per-address limit."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "spectra", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        env=_env(tmp_path),
    )
    try:
        wait_ready(base, proc)
        codes = [
            httpx.post(
                f"{base}/api/auth/login",
                json={"email": f"spray{n}@example.com", "password": "not the password"},
                headers={"x-forwarded-for": f"203.0.113.{n}"},
                timeout=30,
            ).status_code
            for n in range(21)
        ]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert codes[-1] == 429, codes


def test_listening_beyond_loopback_needs_a_proxy_that_bounds_slow_clients(tmp_path: Path) -> None:
    sentence = _refused(tmp_path, "--host", "0.0.0.0", "--port", "9")
    assert "--behind-proxy" in sentence
    assert "docs/deployment.md" in sentence
