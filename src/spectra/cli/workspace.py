"""Which workspace a local command acts on: chosen once per invocation, said on stderr in one
line (never on stdout, so `--json` output stays pure).

Nothing chosen (no SPECTRA_DATA_DIR, SPECTRA_DATABASE_URL or SPECTRA_CONFIG) means `./.spectra`;
when that does not exist but `spectra demo`'s data directory does, the command acts on the
demo's workspace: after `make demo`, `spectra users list` in another terminal shows the demo's
people, and says so.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DATA_DIR = ".spectra"
DEMO_DATA_DIR = ".spectra-demo"
CHOOSERS = ("SPECTRA_DATA_DIR", "SPECTRA_DATABASE_URL", "SPECTRA_CONFIG")


def choose_local() -> str:
    """Point the settings at the demo's data directory when nothing else is chosen and only the
    demo's is here; returns how the workspace was chosen, for `describe`."""
    if any(os.environ.get(name) for name in CHOOSERS):
        return "local"
    if Path(DEFAULT_DATA_DIR).exists() or not (Path(DEMO_DATA_DIR) / "spectra.db").exists():
        return "local"
    from spectra.config import reset_settings

    os.environ["SPECTRA_DATA_DIR"] = DEMO_DATA_DIR
    reset_settings()
    return f"the demo's, found here; no ./{DEFAULT_DATA_DIR} and SPECTRA_DATA_DIR is not set"


def describe(how: str) -> str:
    """One line: the database the in-process app opens, how it was chosen, and the actor."""
    from sqlalchemy.engine import make_url

    from spectra.audit.actor import local_actor
    from spectra.config import get_settings

    settings = get_settings()
    if settings.database_url:
        where = make_url(settings.database_url).render_as_string(hide_password=True)
    else:
        where = str(Path(settings.data_dir).resolve())
    return f"Workspace: {where} ({how}), acting as {local_actor().label}."


def announce(*, discover: bool = True) -> None:
    """Choose the workspace (finding the demo's when `discover`) and say it on stderr."""
    from spectra.cli.output import err_console

    how = choose_local() if discover else "local"
    try:
        line = describe(how)
    except Exception:  # bad settings: the command itself says what is wrong, in one sentence
        return
    err_console.print(line, markup=False, highlight=False, soft_wrap=True)
