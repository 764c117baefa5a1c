"""The standing adversarial suite: schemathesis generates requests for every REST operation from
the API's own OpenAPI document and sends them to a real `spectra serve` on a seeded SQLite
workspace, first as the owner (real API token), then, shorter, as a member. No request may get
a 5xx, every documented response body must match its schema, and afterwards `spectra ledger
verify` and `spectra audit verify` (which also checks the anchor the server left on shutdown)
must pass.

Bounded: a few examples per operation (derandomized, so a run is repeatable; set
SPECTRA_FUZZ_RANDOM=1 to explore) and a time budget per pass that stops early rather than fail.
It runs once, in the SQLite pass of CI (the server it starts always uses SQLite).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.cli.conftest import free_port, wait_ready
from tests.conftest import PG_URL

from .driver import FuzzReport, fuzz

ROOT = Path(__file__).resolve().parents[2]

# Known 500s another branch fixes (trust-ledger); drop each line once that branch is merged.
KNOWN: frozenset[str] = frozenset()  # operations skipped for a known, unfixed 5xx: none today

pytestmark = [
    pytest.mark.fuzz,
    pytest.mark.skipif(bool(PG_URL), reason="runs once, in the SQLite pass"),
]


@dataclass
class LiveServer:
    base_url: str
    tokens: dict[str, str]
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[str]


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRA_")}
    env["SPECTRA_DATA_DIR"] = str(data_dir)
    env["PYTHONPATH"] = str(ROOT)
    return env


def _spectra(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spectra", *args],
        capture_output=True,
        text=True,
        env=server.env,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("fuzz")
    env = _env(data_dir)
    seeded = subprocess.run(
        [sys.executable, "-m", "tests.fuzz.seed", str(data_dir)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=180,
        check=True,
    )
    tokens = json.loads(seeded.stdout.strip().splitlines()[-1])
    port = free_port()
    with (data_dir / "server.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "spectra", "serve", "--port", str(port)],
            stdout=log,
            stderr=log,
            text=True,
            env=env,
        )
    live = LiveServer(f"http://127.0.0.1:{port}", tokens, data_dir, env, process)
    try:
        wait_ready(live.base_url, process, deadline=120)
        yield live
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)


def _failures(report: FuzzReport, who: str) -> str:
    return f"the fuzz as {who} broke {len(report.failures)} operations:\n\n{report.summary()}"


def test_the_api_holds_against_its_own_openapi_document(server: LiveServer) -> None:
    owner = fuzz(
        server.base_url, server.tokens["owner"], max_examples=10, skip=KNOWN, budget_seconds=150
    )
    assert not owner.failures, _failures(owner, "the owner")
    assert owner.requests >= owner.operations

    member = fuzz(
        server.base_url, server.tokens["member"], max_examples=3, skip=KNOWN, budget_seconds=45
    )
    assert not member.failures, _failures(member, "a member")

    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=60)
    ledger = _spectra(server, "ledger", "verify")
    assert ledger.returncode == 0, ledger.stderr
    audit = _spectra(server, "audit", "verify", "--json")
    assert audit.returncode == 0, audit.stderr
    chain = json.loads(audit.stdout)
    assert chain["ok"]
    assert chain["anchor_seq"] == chain["head"], "the server anchored its head when it stopped"
