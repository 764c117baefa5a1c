"""Child processes of the benchmark (fake, bare proxy, Spectra) and their /proc readings."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[str]
    url: str

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cpu_seconds(self) -> float:
        """User + system CPU of the process so far (all its threads)."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def rss_mb(self) -> float:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(url: str, proc: subprocess.Popen[str], timeout: float = 60.0) -> None:
    parsed = urlparse(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        with (
            contextlib.suppress(OSError),
            socket.create_connection((parsed.hostname, parsed.port), timeout=0.5),
        ):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not start listening within {timeout} s")


def start_module(
    name: str,
    module: str,
    *args: str,
    marker: str,
    env: dict[str, str] | None = None,
    log: Path | None = None,
) -> Child:
    """Run `python -m module args`; its first stdout line `MARKER=url` names its address."""
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=open(log, "w") if log else subprocess.DEVNULL,  # noqa: SIM115
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )
    assert proc.stdout is not None
    url = ""
    for line in proc.stdout:
        if line.startswith(marker + "="):
            url = line.strip().split("=", 1)[1]
            break
    if not url:
        proc.kill()
        raise RuntimeError(f"{module} did not print {marker}= (see {log})")
    proc.stdout.close()
    wait_listening(url, proc)
    return Child(name, proc, url)


def start_spectra(name: str, env: dict[str, str], port: int, log: Path) -> Child:
    spectra = Path(sys.executable).parent / "spectra"
    proc = subprocess.Popen(
        [str(spectra), "serve", "--port", str(port)],
        cwd=ROOT,
        stdout=open(log, "w"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **env},
    )
    url = f"http://127.0.0.1:{port}"
    wait_listening(url, proc, timeout=120)
    return Child(name, proc, url)


@contextlib.contextmanager
def children() -> Iterator[list[Child]]:
    running: list[Child] = []
    try:
        yield running
    finally:
        for child in reversed(running):
            child.stop()
