"""`spectra --help` and argument errors stay fast: the command tree imports no database, web,
HTTP-client or settings stack, nor an event loop; those load on a command's first API call (not
timed here: the test asserts what gets imported, which a slow machine cannot make flaky). Typer
itself brings pydantic for a subcommand's options, so that one is not on the list."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "sqlalchemy",
    "fastapi",
    "starlette.applications",
    "aiohttp",
    "httpx",
    "pydantic_settings",
    "spectra.config",
    "spectra.runtime",
    "cryptography",
    "asyncio",
)

_PROBE = """
import json, sys
from typer.testing import CliRunner
from spectra.cli.main import app
result = CliRunner().invoke(app, sys.argv[1:])
print(json.dumps({"code": result.exit_code, "out": result.output, "modules": sorted(sys.modules)}))
"""


def _run(*args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    answer: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return answer


def test_help_imports_none_of_the_heavy_stacks() -> None:
    for args in (["--help"], ["ledger", "--help"], ["packages", "assign", "--help"]):
        answer = _run(*args)
        assert answer["code"] == 0, answer["out"]
        assert "Usage" in str(answer["out"])
        modules = set(answer["modules"])  # type: ignore[call-overload]
        loaded = [m for m in HEAVY if m in modules]
        assert loaded == [], f"`spectra {' '.join(args)}` imported {loaded}"


def test_a_real_command_still_loads_them_on_its_first_call() -> None:
    """The check above is not vacuous: the probe sees the stacks once a command runs."""
    answer = _run("ledger", "balance", "--user", "a@example.com", "--group", "g")
    assert answer["code"] == 2  # naming both is refused before any call
    answer = _run("--server", "http://127.0.0.1:9", "ledger", "verify")
    assert answer["code"] != 0
    assert "httpx" in answer["modules"]  # type: ignore[operator]
