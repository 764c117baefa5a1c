"""`spectra ARGS` run in this process, as a subprocess would see it.

The CLI's code path is the same either way (the in-process API client over ASGI); what a
subprocess adds is only the interpreter's start-up, about 4 s of CPU per call, which the suite
paid a few hundred times. Tests of process behaviour itself (start-up errors, `serve`, what
reaches the log of a real process) keep real subprocesses."""

from __future__ import annotations

import os
from dataclasses import dataclass

from typer.testing import CliRunner

from spectra.cli.main import app as cli_app
from spectra.config import reset_settings
from spectra.db import serverkey


@dataclass(frozen=True)
class Done:
    """What `subprocess.run(..., capture_output=True, text=True)` would have returned."""

    returncode: int
    stdout: str
    stderr: str


def run_spectra(args: list[str], env: dict[str, str], stdin: str | None = None) -> Done:
    """Run `spectra *args` with exactly `env`'s SPECTRA_* variables (others of this process
    unset), then put the process's environment, settings and server keys back as they were."""
    saved_environ = dict(os.environ)
    saved_keys = serverkey._keys
    for key in [k for k in os.environ if k.startswith("SPECTRA_")]:
        del os.environ[key]
    os.environ.update(env)
    reset_settings()
    try:
        result = CliRunner().invoke(cli_app, args, input=stdin)
    finally:
        os.environ.clear()
        os.environ.update(saved_environ)
        reset_settings()
        serverkey.set_server_keys(saved_keys)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Done(result.exit_code, result.stdout, result.stderr)
