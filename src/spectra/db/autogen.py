"""Developer tool: `make migration m="what changed"` autogenerates a revision against a
scratch SQLite database upgraded to the current head."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command

from spectra.db.migrate import run_alembic, upgrade_sync


def main(message: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'autogen.db'}"
        upgrade_sync(url)
        script = run_alembic(url, command.revision, message=message, autogenerate=True)
    path = getattr(script, "path", None)
    if path:
        subprocess.run([sys.executable, "-m", "ruff", "format", "-q", path], check=False)
        print(f"Written {path}: rename it to its place in the chain and set `revision` (see the guide).")


if __name__ == "__main__":
    main(" ".join(sys.argv[1:]) or "change")
