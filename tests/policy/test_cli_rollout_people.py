"""`spectra rollouts owner NAME --user EMAIL | --clear` and `spectra rollouts watch add|remove|list
NAME --user EMAIL`, on a local data dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_cli_owner_and_watchers(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRA_")}
    env["SPECTRA_DATA_DIR"] = str(tmp_path)

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "spectra", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if ok:
            assert result.returncode == 0, result.stderr
        return result

    run("groups", "create", "Platform")
    run("users", "create", "ana@example.com", "--group", "Platform")
    run("users", "create", "bo@example.com", "--group", "Platform")
    run("rollouts", "create", "Opus", "--cohort", "all:groups=Platform;models=claude-opus-*")

    owned = json.loads(
        run("rollouts", "owner", "Opus", "--user", "ana@example.com", "--json").stdout
    )
    assert owned["owner"]["email"] == "ana@example.com"
    watched = json.loads(
        run("rollouts", "watch", "add", "Opus", "--user", "bo@example.com", "--json").stdout
    )
    assert [w["email"] for w in watched["watchers"]] == ["bo@example.com"]
    shown = run("rollouts", "watch", "list", "Opus").stdout
    assert "owner ana@example.com" in shown and "bo@example.com" in shown
    gone = json.loads(
        run("rollouts", "watch", "remove", "Opus", "--user", "bo@example.com", "--json").stdout
    )
    assert gone["watchers"] == []
    refused = run("rollouts", "watch", "remove", "Opus", "--user", "bo@example.com", ok=False)
    assert refused.returncode != 0
    assert "does not watch" in refused.stderr
    cleared = json.loads(run("rollouts", "owner", "Opus", "--clear", "--json").stdout)
    assert cleared["owner"] is None
