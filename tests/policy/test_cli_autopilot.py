"""`spectra rollouts create` with a percentage cohort and a holdout, `rollouts autopilot on|off`
with a settings file, `rollouts timeline --json`, on a local data dir."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import Done, run_spectra


def test_cli_percentages_autopilot_and_timeline(tmp_path: Path) -> None:
    env = {"SPECTRA_DATA_DIR": str(tmp_path)}

    def run(*args: str, ok: bool = True) -> Done:
        result = run_spectra(list(args), env)
        if ok:
            assert result.returncode == 0, result.stderr
        return result

    run("groups", "create", "Platform")
    run("users", "create", "ana@example.com", "--group", "Platform")
    made = json.loads(
        run(
            "rollouts",
            "create",
            "Opus",
            "--holdout",
            "5",
            "--cohort",
            "ten:groups=Platform;percent=10;exclude-users=ana@example.com;models=claude-opus-*",
            "--cohort",
            "all:groups=Platform;models=claude-opus-*",
            "--json",
        ).stdout
    )
    assert made["holdout"] == "5.00"
    assert made["autopilot"] is False
    first = made["cohorts"][0]
    assert (first["percent"], len(first["exclude_user_ids"])) == ("10.00", 1)

    settings = tmp_path / "autopilot.json"
    settings.write_text(json.dumps({"window_hours": 48, "min_requests": 200, "days": [0, 2]}))
    on = json.loads(
        run("rollouts", "autopilot", "on", "Opus", "--settings", str(settings), "--json").stdout
    )
    assert on["autopilot"] is True
    assert on["autopilot_settings"]["window_hours"] == 48
    assert on["autopilot_settings"]["days"] == [0, 2]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"days": [9]}))
    refused = run("rollouts", "autopilot", "on", "Opus", "--settings", str(bad), ok=False)
    assert refused.returncode != 0
    assert run("rollouts", "autopilot", "maybe", "Opus", ok=False).returncode == 2
    run("rollouts", "autopilot", "off", "Opus")
    timeline = json.loads(run("rollouts", "timeline", "Opus", "--json").stdout)
    assert [(e["kind"], e["actor"] != "system") for e in timeline["events"]] == [
        ("autopilot_on", True),
        ("autopilot_off", True),
    ]
    assert timeline["rollout"]["autopilot"] is False
    assert "autopilot_off" in run("rollouts", "timeline", "Opus").stdout
