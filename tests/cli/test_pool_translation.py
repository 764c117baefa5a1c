"""`spectra pool add|edit --translate/--no-translate` and `spectra policy explain` with its pool
step, both ways: in process and with --server print the same."""

from __future__ import annotations

import pytest
from tests.cli.conftest import Cli

ADD = [
    "--provider",
    "anthropic",
    "--base-url",
    "http://127.0.0.1:9",
    "--api-key-env",
    "POOL_KEY",
    "--models",
    "claude-*",
    "--no-translate",
    "--json",
]


def test_translate_switch_and_explain_pool_step_both_ways(
    served: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = served
    monkeypatch.setenv("POOL_KEY", "sk-test-cccccccccccccccc9a9a")
    pair = ("T1", "T2")
    local, remote = cli.both(
        ["pool", "add", "--name", "T1", *ADD], ["pool", "add", "--name", "T2", *ADD], names=pair
    )
    assert (local["translate"], remote["translate"]) == (False, False)
    shown, _ = cli.both(["pool", "show", "T1", "--json"])
    assert shown["translate"] is False
    listed, _ = cli.both(["pool", "list", "--json"])
    assert [a["translate"] for a in listed["items"]] == [False, False]
    cli.both(["pool", "show", "T1"])

    cli.ok("users", "create", "ana@example.com")
    cli.ok("ledger", "recharge", "--user", "ana@example.com", "--amount", "5", "--memo", "m")
    explain = ["policy", "explain", "--user", "ana@example.com", "--model", "claude-sonnet-4-5"]
    closed, _ = cli.both([*explain, "--protocol", "openai_chat", "--json"])
    pool = closed["trace"][-1]
    assert (pool["rule"], pool["outcome"]) == ("pool", "deny")
    assert closed["reason_code"] == "model_not_served"
    assert {a["reason"] for a in pool["inputs"]["accounts"]} == {
        "does not take translated traffic (translation off)"
    }

    edited, _ = cli.both(
        ["pool", "edit", "T1", "--translate", "--json"],
        ["pool", "edit", "T2", "--translate", "--json"],
        names=pair,
    )
    assert edited["translate"] is True
    opened, _ = cli.both([*explain, "--protocol", "openai_chat", "--json"])
    pool = opened["trace"][-1]
    assert pool["outcome"] == "pass"
    assert [(a["account"], a["translated"], a["usable"]) for a in pool["inputs"]["accounts"]] == [
        ("T1", True, True),
        ("T2", True, True),
    ]
    table, _ = cli.both([*explain, "--protocol", "openai_chat"])
    assert "Pool accounts for this model" in table
    assert "anthropic_messages" in table

    unserved, _ = cli.both(
        ["policy", "explain", "--user", "ana@example.com", "--model", "gpt-5", "--json"]
    )
    assert (unserved["allowed"], unserved["reason_code"]) == (False, "model_not_served")
    first, _ = cli.both_fail(*explain, "--protocol", "smtp")
    assert "no protocol 'smtp'" in first.err
