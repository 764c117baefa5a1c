"""`spectra pool|usage|policy|rollouts|audit` both ways: in process and with --server print the
same (ids, times, secrets and the actor normalised)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli.conftest import Cli

ADD = [
    "--provider",
    "openai",
    "--base-url",
    "http://127.0.0.1:9/v1",
    "--api-key-env",
    "POOL_KEY",
    "--models",
    "gpt-5,gpt-5-*",
    "--priority",
    "1",
    "--json",
]


def test_pool_commands_print_the_same_both_ways(
    served: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = served
    monkeypatch.setenv("POOL_KEY", "sk-test-aaaaaaaaaaaaaaaa1234")
    pair = ("A1", "A2")
    cli.both(
        ["pool", "add", "--name", "A1", *ADD], ["pool", "add", "--name", "A2", *ADD], names=pair
    )
    cli.both(["pool", "list", "--json"])
    cli.both(["pool", "list"])
    cli.both(["pool", "show", "A1", "--json"])
    cli.both(
        ["pool", "edit", "A1", "--weight", "5", "--json"],
        ["pool", "edit", "A2", "--weight", "5", "--json"],
        names=pair,
    )
    cli.both(
        ["pool", "disable", "A1", "--reason", "rotation", "--json"],
        ["pool", "disable", "A2", "--reason", "rotation", "--json"],
        names=pair,
    )
    cli.both(["pool", "enable", "A1", "--json"], ["pool", "enable", "A2", "--json"], names=pair)
    cli.both(["pool", "history", "A1", "--json"])
    cli.both(["pool", "status", "--json"])
    key = ["--stdin", "--no-probe", "--json"]
    secret = "sk-test-bbbbbbbbbbbbbbbb5e6f\n"
    cli.both(
        ["pool", "rotate-credential", "A1", *key],
        ["pool", "rotate-credential", "A2", *key],
        names=pair,
        input=secret,
    )
    local, remote = cli.local("pool", "test", "A1"), cli.remote("pool", "test", "A2")
    assert (local.code, remote.code) == (10, 10)
    cli.both_fail("pool", "show", "nope")


def test_usage_commands_print_the_same_both_ways(served: Cli, tmp_path: Path) -> None:
    cli = served
    cli.ok("users", "create", "a@example.com")
    cli.both(["usage", "list", "--json"])
    cli.both(["usage", "list", "--user", "a@example.com", "--limit", "5", "--json"])
    cli.both(["usage", "report", "--by", "user", "--json"])
    cli.both(["usage", "report", "--by", "model", "--format", "csv"])
    cli.both(["usage", "adoption", "--json"])
    cli.both(["usage", "rollup"])
    cli.both(["usage", "export", "--format", "jsonl"])
    cli.both(["usage", "export", "--format", "csv"])
    cli.both(["usage", "statement", "--user", "a@example.com", "--json"])
    cli.both(["usage", "statement", "--user", "a@example.com", "--format", "csv"])
    cli.both(["usage", "forecast", "--json"])
    cli.both(["usage", "economics", "--json"])
    cli.both(["usage", "reconcile", "--json"])
    cli.both(["usage", "reconcile", "--format", "jsonl"])
    out = tmp_path / "usage.csv"
    cli.local("usage", "export", "--format", "csv", "--out", str(out))
    local_file = out.read_text()
    out.unlink()
    cli.remote("usage", "export", "--format", "csv", "--out", str(out))
    assert out.read_text() == local_file
    cli.both_fail("usage", "report", "--by", "planet")
    cli.both_fail("usage", "statement", "--user", "nobody@example.com")


def test_policy_and_rollouts_print_the_same_both_ways(served: Cli) -> None:
    cli = served
    cli.ok("groups", "create", "Platform")
    cli.ok("groups", "create", "Mobile")
    cli.ok("users", "create", "ana@example.com", "--group", "Platform")
    cli.ok("users", "create", "mo@example.com", "--group", "Mobile")
    pm = ("Platform", "Mobile")
    draft = ["--deny", "claude-opus-*", "--member-cap", "50", "--json"]
    ld, rd = cli.both(
        ["policy", "draft", "--group", "Platform", *draft],
        ["policy", "draft", "--group", "Mobile", *draft],
        names=pm,
    )
    cli.both(["policy", "drafts", "--json"])
    cli.both_fail("policy", "publish", ld["id"])
    cli.both(
        ["policy", "dry-run", ld["id"], "--days", "7", "--json"],
        ["policy", "dry-run", rd["id"], "--days", "7", "--json"],
        names=pm,
    )
    cli.both(
        ["policy", "publish", ld["id"], "--json"],
        ["policy", "publish", rd["id"], "--json"],
        names=pm,
    )
    cli.both(["policy", "show", "Platform", "--json"])
    cli.both(
        ["policy", "set-funding", "Platform", "--no-wallet", "--json"],
        ["policy", "set-funding", "Mobile", "--no-wallet", "--json"],
        names=pm,
    )
    explain = [
        "policy",
        "explain",
        "--user",
        "ana@example.com",
        "--model",
        "claude-opus-4-8",
        "--json",
    ]
    local, _ = cli.both(explain)
    assert local["reason_code"] == "model_denied"
    cli.both_fail("policy", "explain", "--user", "nobody@example.com", "--model", "gpt-5")
    cohort = "pilot:groups={};models=claude-opus-*"
    cli.both(
        [
            "rollouts",
            "create",
            "R1",
            "--goal",
            "Opus",
            "--cohort",
            cohort.format("Platform"),
            "--json",
        ],
        [
            "rollouts",
            "create",
            "R2",
            "--goal",
            "Opus",
            "--cohort",
            cohort.format("Mobile"),
            "--json",
        ],
        names=[("R1", "R2"), pm],
    )
    cli.both(["rollouts", "list", "--json"])
    cli.both(["rollouts", "show", "R1", "--json"])
    cli.both_fail("rollouts", "promote", "R1")
    cli.both(
        ["rollouts", "promote", "R1", "--dry-run", "--json"],
        ["rollouts", "promote", "R2", "--dry-run", "--json"],
        names=[("R1", "R2"), pm],
    )
    cli.both(
        ["rollouts", "promote", "R1", "--json"],
        ["rollouts", "promote", "R2", "--json"],
        names=[("R1", "R2"), pm],
    )
    cli.both(["rollouts", "metrics", "R1", "--json"])
    cli.both(
        ["rollouts", "rollback", "R1", "--json"],
        ["rollouts", "rollback", "R2", "--json"],
        names=[("R1", "R2"), pm],
    )


def test_audit_commands_print_the_same_both_ways(served: Cli, tmp_path: Path) -> None:
    cli = served
    cli.ok("groups", "create", "Audited")
    cli.both(["audit", "list", "--action", "groups.*", "--json"])
    cli.both(["audit", "list", "--limit", "2", "--json"])
    # An intact verify anchors the head it saw: verify once first, so both ways compare with the
    # same anchor (otherwise the first way reports the older anchor it then replaces).
    cli.ok("audit", "verify")
    cli.both(["audit", "verify", "--json"])
    cli.both(["audit", "verify"])
    for fmt in ("csv", "jsonl"):
        local_file, remote_file = tmp_path / f"l.{fmt}", tmp_path / f"r.{fmt}"
        cli.both(
            [
                "audit",
                "export",
                "--format",
                fmt,
                "--action",
                "groups.*",
                "--output",
                str(local_file),
            ],
            [
                "audit",
                "export",
                "--format",
                fmt,
                "--action",
                "groups.*",
                "--output",
                str(remote_file),
            ],
            names=(str(local_file), str(remote_file)),
        )
        assert local_file.read_text() == remote_file.read_text()
    lines = (tmp_path / "l.jsonl").read_text().splitlines()
    actions = [json.loads(line)["action"] for line in lines]
    assert "groups.create" in actions
    assert set(actions) == {"groups.create"}
    cli.both_fail("audit", "export", "--format", "xml", "--output", str(tmp_path / "x"))
