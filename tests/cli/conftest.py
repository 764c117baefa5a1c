"""Run `spectra` commands both ways: in process (no `--server`, actor local:<os user>) and with
`--server` against a real `spectra serve` process on a free port (as an owner's API token), and
compare what they print with ids, times, secrets and the actor normalised."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from tests.conftest import TEST_SECRET
from typer.testing import CliRunner

from spectra.cli.main import app as cli_app
from spectra.config import Settings, reset_settings
from spectra.db.serverkey import set_server_keys
from spectra.runtime import Runtime

OWNER = "cli-owner@example.com"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)?")
_SECRET = re.compile(r"\b(sk|st|SPC)-[A-Za-z0-9_\-]{12,}")
_BASE = re.compile(r"https?://127\.0\.0\.1:\d+|token=[\w-]+")
SECRET_FIELDS = frozenset({"secret", "token", "code", "prefix"})
# Fields that name or derive from who acted (local:<os user> in process, a user over HTTP).
ACTOR_FIELDS = frozenset({"actor_kind", "idempotency_key"})
_ACTOR = re.compile(rf"local:[^\s\"]+|{re.escape(OWNER)}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Result:
    code: int
    out: str
    err: str
    workspace: str = ""
    """The line a local command starts stderr with ("Workspace: ..."), kept apart from `err`."""

    @property
    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Cli:
    """The CLI pointed at the test database; `server` once `serve()` ran."""

    runtime: Runtime
    env: dict[str, str]
    server: str | None = None
    token: str | None = None
    runner: CliRunner = field(default_factory=CliRunner)

    def local(self, *args: str, input: str | None = None) -> Result:
        result = self.runner.invoke(cli_app, list(args), input=input)
        # The in-process app closes its runtime, which forgets this process's server keys.
        set_server_keys(self.runtime.keys)
        first, _, rest = result.stderr.partition("\n")
        if first.startswith("Workspace: "):
            return Result(result.exit_code, result.stdout, rest, first)
        return Result(result.exit_code, result.stdout, result.stderr)

    def remote(self, *args: str, input: str | None = None) -> Result:
        assert self.server is not None, "call serve() first"
        result = self.runner.invoke(
            cli_app,
            ["--server", self.server, *args],
            input=input,
            env={"SPECTRA_TOKEN": self.token or ""},
        )
        return Result(result.exit_code, result.stdout, result.stderr)

    def ok(self, *args: str, input: str | None = None) -> Any:
        result = self.local(*args, input=input)
        assert result.code == 0, result.err
        return result.json if "--json" in args else result.out

    def both(
        self,
        local_args: list[str],
        remote_args: list[str] | None = None,
        *,
        names: tuple[str, str] | list[tuple[str, str]] | None = None,
        input: str | None = None,
    ) -> tuple[Any, Any]:
        """Run a command locally then with --server (with `remote_args` when a write needs
        other names: `names` = (local name, remote name), replaced before comparing); assert
        both succeed and print the same, normalised. Returns both answers."""
        first = self.local(*local_args, input=input)
        assert first.code == 0, first.err
        second = self.remote(*(remote_args or local_args), input=input)
        assert second.code == 0, second.err
        as_json = "--json" in local_args
        pairs = [names] if isinstance(names, tuple) else names or []
        a = normalise(first.json if as_json else first.out, [p[0] for p in pairs])
        b = normalise(second.json if as_json else second.out, [p[1] for p in pairs])
        assert a == b
        return (first.json, second.json) if as_json else (first.out, second.out)

    def both_fail(
        self, *args: str, input: str | None = None, report: bool = False
    ) -> tuple[Result, Result]:
        """The same refusal both ways: same exit code, same one sentence on stderr (after the
        lines of a `report`)."""
        first = self.local(*args, input=input)
        second = self.remote(*args, input=input)
        assert first.code != 0
        assert (first.code, normalise(first.err.strip())) == (
            second.code,
            normalise(second.err.strip()),
        )
        assert report or first.err.strip().count("\n") == 0, first.err
        return first, second


def normalise(value: Any, names: list[str] | None = None) -> Any:
    """`value` with ids, times, secrets, the actor, probe results and `names` (words) replaced by
    placeholders."""
    if isinstance(value, dict):
        return {
            k: "<secret>"
            if k in SECRET_FIELDS
            else "<actor>"
            if k in ACTOR_FIELDS
            else "<probe>"
            if k.startswith("last_probe")  # the served process's probe job runs on its own time
            else normalise(v, names)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [normalise(v, names) for v in value]
    if isinstance(value, str):
        text = _BASE.sub("<base>", _SECRET.sub("<secret>", value))
        text = _UUID.sub("<id>", text)
        text = _TIME.sub("<time>", text)
        text = _ACTOR.sub("<actor>", text)
        for name in names or ():
            text = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", "<name>", text, flags=re.I)
        return text
    return value


@pytest.fixture
def cli(runtime: Runtime, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    env = {
        "SPECTRA_DATABASE_URL": settings.resolved_database_url,
        "SPECTRA_DATA_DIR": str(settings.data_dir),
        "SPECTRA_SECRET_KEY": TEST_SECRET,
        "SPECTRA_AUTO_MIGRATE": "false",
        # The test's own anchor file: the data directory outlives the test's emptied tables, and
        # an earlier test's anchors would not match this test's chain.
        "SPECTRA_AUDIT_ANCHOR_FILE": str(settings.audit_anchor_file),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("SPECTRA_SERVER", raising=False)
    monkeypatch.delenv("SPECTRA_TOKEN", raising=False)
    reset_settings()
    yield Cli(runtime, env)
    reset_settings()
    set_server_keys(runtime.keys)


@pytest.fixture
def served(cli: Cli) -> Iterator[Cli]:
    """`cli`, plus a real `spectra serve` on this database and an owner's API token for it."""
    cli.ok("users", "create", OWNER, "--role", "owner")
    cli.token = cli.ok("tokens", "create", "--user", OWNER, "--json")["secret"]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRA_")}
    env.update(cli.env)
    proc = subprocess.Popen(
        [sys.executable, "-m", "spectra", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc)
        cli.server = base
        yield cli
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_ready(base: str, proc: subprocess.Popen[str], deadline: float = 120) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(
                f"server exited early: {proc.stderr.read() if proc.stderr else ''}"
            )
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("server did not become ready")
