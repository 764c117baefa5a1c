"""`spectra policy draft|dry-run|publish|show` and `spectra rollouts ...` on a local data dir."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import Done, run_spectra


def test_cli_drafts_and_rollouts(tmp_path: Path) -> None:
    env = {"SPECTRA_DATA_DIR": str(tmp_path)}

    def run(*args: str, ok: bool = True) -> Done:
        result = run_spectra(list(args), env)
        if ok:
            assert result.returncode == 0, result.stderr
        return result

    run("groups", "create", "Platform")
    run("users", "create", "ana@example.com", "--group", "Platform")
    draft = json.loads(
        run(
            "policy",
            "draft",
            "--group",
            "Platform",
            "--deny",
            "claude-opus-*",
            "--clients",
            "claude_code",
            "--member-cap",
            "50",
            "--json",
        ).stdout
    )
    refused = run("policy", "publish", draft["id"], ok=False)
    assert refused.returncode != 0
    assert "dry-run" in refused.stderr
    dry = json.loads(run("policy", "dry-run", draft["id"], "--days", "7", "--json").stdout)
    assert dry["dry_run"]["members"] == 1
    run("policy", "publish", draft["id"])
    shown = json.loads(run("policy", "show", "Platform", "--json").stdout)
    assert shown["denied_models"] == ["claude-opus-*"]
    assert shown["allowed_clients"] == ["claude_code"]
    assert shown["member_monthly_cap"] == "50.00"
    explained = json.loads(
        run(
            "policy", "explain", "--user", "ana@example.com", "--model", "claude-opus-4-8", "--json"
        ).stdout
    )
    assert explained["reason_code"] == "model_denied"
    assert set(explained) >= {"allowed", "reason_code", "message", "funding", "trace"}

    run(
        "rollouts",
        "create",
        "Claude for all",
        "--goal",
        "Opus",
        "--cohort",
        "pilot:groups=Platform;models=claude-opus-*",
    )
    listed = json.loads(run("rollouts", "list", "--json").stdout)
    assert [r["name"] for r in listed["items"]] == ["Claude for all"]
    assert run("rollouts", "promote", "Claude for all", ok=False).returncode != 0
    run("rollouts", "promote", "Claude for all", "--dry-run")
    run("rollouts", "promote", "Claude for all")
    shown = json.loads(run("rollouts", "show", "Claude for all", "--json").stdout)
    assert shown["cohorts"][0]["status"] == "promoted"
    assert json.loads(run("policy", "show", "Platform", "--json").stdout)["denied_models"] == []
    metrics = json.loads(run("rollouts", "metrics", "Claude for all", "--json").stdout)
    assert metrics["cohorts"][0]["members"] == 1
    run("rollouts", "rollback", "Claude for all")
    assert json.loads(run("policy", "show", "Platform", "--json").stdout)["denied_models"] == [
        "claude-opus-*"
    ]
