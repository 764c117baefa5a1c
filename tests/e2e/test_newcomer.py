"""The newcomer's first minutes with the real clients: the commands `spectra demo` prints are run
as printed (Claude Code and Codex reach the demo's fake upstream through Spectra), and a mistyped
key makes Claude Code stop at once with Spectra's sentence instead of retrying for a minute."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.gateway.world import build_world, free_port, serve

from spectra.runtime import Runtime

from . import clients

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("installed_clients")]

DEMO_REPLY = "Hello from the Spectra demo upstream."


def _client_env(home: str) -> dict[str, str]:
    env = clients._base_env(home) | clients.CLAUDE_QUIET_ENV
    bins = str(clients.claude_bin().parent)
    env["PATH"] = f"{bins}:{env.get('PATH', '/usr/bin:/bin')}"
    return env


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[dict[str, str]]:
    """`spectra demo` serving on a free port (a short history); its printed commands by tool."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRA_")}
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "spectra", "demo", "--port", str(port), "--days", "1"),
            *("--volume", "0.02", "--data-dir", str(tmp_path / "demo")),
        ],
        env=env | {"COLUMNS": "400"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    printed: dict[str, str] = {}
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            found = re.match(r"\s+(Claude Code|Codex CLI):\s+(.*\S)\s*$", line)
            if found:
                printed[found.group(1)] = found.group(2)
            if "is serving on" in line:
                break
        assert set(printed) == {"Claude Code", "Codex CLI"}, "".join(lines)
        for _ in range(600):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            process.poll()
            assert process.returncode is None, "".join(lines)
            time.sleep(0.1)
        yield printed
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _run_printed(command: str, args: list[str], workdir: Path, **env: str) -> clients.ClientResult:
    with tempfile.TemporaryDirectory(prefix="spectra-newcomer-home-") as home:
        for name, text in env.items():
            path = Path(home) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        argv = ["bash", "-c", f"{command} {shlex.join(args)}"]
        return clients._run(argv, env=_client_env(home), cwd=workdir, timeout=120)


def test_the_commands_the_demo_prints_work_as_printed(demo: dict[str, str], tmp_path: Path) -> None:
    assert "OPENAI_BASE_URL" not in demo["Codex CLI"]  # Codex ignores it

    claude = _run_printed(
        demo["Claude Code"],
        ["-p", "say hi", "--output-format", "json"],
        tmp_path,
    )
    # Codex's own settings only keep it offline; the provider is the printed command's.
    quiet = "[analytics]\nenabled = false\n[features]\nplugins = false\nremote_plugin = false\n"
    codex = _run_printed(
        demo["Codex CLI"],
        ["exec", "--skip-git-repo-check", "--color", "never", "--cd", str(tmp_path), "say hi"],
        tmp_path,
        **{".codex/config.toml": quiet},
    )

    assert claude.returncode == 0, claude.describe()
    assert DEMO_REPLY in claude.stdout, claude.describe()
    assert codex.returncode == 0, codex.describe()
    assert DEMO_REPLY in codex.stdout, codex.describe()


async def test_a_mistyped_key_stops_claude_code_at_once(
    runtime: Runtime, app: Any, tmp_path: Path
) -> None:
    await build_world(runtime)
    posts: list[str] = []

    async def counting(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            posts.append(scope["path"])
        await app(scope, receive, send)

    async with serve(counting) as base:
        result = await asyncio.to_thread(
            clients.run_claude_code,
            base,
            "sk-spectra-mistyped00000000000000000000",
            "say hi",
            workdir=tmp_path,
            timeout=90,
        )

    assert posts == ["/v1/messages"], result.describe()  # one request: no retries
    assert result.events, result.describe()
    assert result.events[0]["is_error"], result.describe()
    assert "This API key is not known" in (result.final_text or ""), result.describe()
