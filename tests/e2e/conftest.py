"""Fixtures for tests that drive the real Claude Code and Codex CLI binaries."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator

import pytest

from . import clients
from ._mini_upstream import MiniUpstream


@pytest.fixture(scope="session")
def installed_clients() -> str:
    """Install the pinned clients once per session; returns the version report.

    In CI a failed install fails the tests (they must never be skipped there); elsewhere, for
    instance offline, it skips them with the installer's output.
    """
    try:
        return clients.ensure_clients()
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        output = getattr(exc, "stderr", None) or ""
        message = f"installing the real clients failed: {exc}\n{output}"
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
async def mini_upstream() -> AsyncIterator[MiniUpstream]:
    async with MiniUpstream(tool_command=TOOL_COMMAND) as upstream:
        yield upstream


TOOL_COMMAND = "echo spectra-tool-ok | tee tool-proof.txt"
"""Prints the marker and writes a file: a write needs approval, so its presence proves the
harness lets a non-read-only command run unprompted (plain `echo` is pre-approved by Claude Code)."""
