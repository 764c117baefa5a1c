"""`spectra packages|ledger|codes|prices|settings` both ways: in process and with --server
print the same (ids, times, secrets and the actor normalised)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.cli.conftest import Cli

PAIR = ("P1", "P2")


def test_packages_commands_print_the_same_both_ways(served: Cli, tmp_path: Path) -> None:
    cli = served
    cli.ok("groups", "create", "Team")
    for i in (1, 2, 3):
        cli.ok("users", "create", f"u{i}@example.com", "--group", "Team")
    for name in ("T1", "T2"):
        cli.ok("packages", "create", name, "--allowance", "5", "--period", "daily")
    create = [
        "create",
        "--allowance",
        "20",
        "--period",
        "monthly",
        "--models",
        "claude-*",
        "--json",
    ]
    cli.both(
        ["packages", "create", "P1", *create[1:]],
        ["packages", "create", "P2", *create[1:]],
        names=PAIR,
    )
    cli.both(["packages", "list", "--json"])
    cli.both(["packages", "list"])
    cli.both(["packages", "show", "P1", "--json"])
    cli.both(["packages", "show", "P1"])
    edit = ["--rpm", "30", "--note", "faster", "--json"]
    cli.both(["packages", "edit", "P1", *edit], ["packages", "edit", "P2", *edit], names=PAIR)
    cli.both(["packages", "versions", "P1", "--json"])
    one = ["--user", "u1@example.com", "--json"]
    cli.both(["packages", "assign", "P1", *one], ["packages", "assign", "P2", *one], names=PAIR)
    cli.both(["packages", "assign", "P1", "--group", "Team", "--preview", "--json"])
    group = ["--group", "Team", "--yes", "--json"]
    local, _ = cli.both(
        ["packages", "assign", "P1", *group], ["packages", "assign", "P2", *group], names=PAIR
    )
    assert (local["applied"], local["gain"], local["unchanged"]) == (True, 2, 1)
    cli.both(
        ["packages", "assign", "P1", "--group", "Team", "--yes"],
        ["packages", "assign", "P2", "--group", "Team", "--yes"],
        names=PAIR,
    )
    cli.both(["packages", "holdings", "--user", "u2@example.com", "--json"])
    cli.both(["packages", "assignments", "--package", "P1", "--json"])
    cli.ok("packages", "edit", "P1", "--rpm", "40")
    cli.ok("packages", "edit", "P2", "--rpm", "40")
    migrate = ["--yes", "--json"]
    local, _ = cli.both(
        ["packages", "migrate", "P1", *migrate], ["packages", "migrate", "P2", *migrate], names=PAIR
    )
    assert local["applied"] is True
    held = cli.ok("packages", "assignments", "--user", "u3@example.com", "--json")["items"]
    ids = {a["package_name"]: a["id"] for a in held}
    cli.both(
        ["packages", "cancel", ids["P1"], "--now", "--json"],
        ["packages", "cancel", ids["P2"], "--now", "--json"],
        names=PAIR,
    )
    cli.both(
        ["groups", "set-default-package", "Team", "P1", "--json"],
        ["groups", "set-default-package", "Team", "P2", "--json"],
        names=PAIR,
    )
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text("email,package\nu3@example.com,T1\n")
    second.write_text("email,package\nu3@example.com,T2\n")
    cli.both(
        ["packages", "import", str(first), "--json"],
        ["packages", "import", str(second), "--json"],
        names=("T1", "T2"),
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("email,package\nu1@example.com,T1\nghost@example.com,T1\n")
    local_bad, _ = cli.both_fail("packages", "import", str(bad), report=True)
    assert "nothing was imported" in local_bad.err
    cli.both_fail("packages", "assign", "Nope", "--user", "u1@example.com")
    cli.both_fail("packages", "create", "X", "--allowance", "1.0000001", "--period", "daily")
    cli.both(
        ["packages", "archive", "P1", "--json"], ["packages", "archive", "P2", "--json"], names=PAIR
    )


def test_ledger_and_codes_print_the_same_both_ways(served: Cli) -> None:
    cli = served
    cli.ok("users", "create", "a@example.com")
    for who in "bcd":
        cli.ok("users", "create", f"{who}@example.com")
    ab = ("a", "b")
    local, remote = cli.both(
        ["ledger", "recharge", "--user", "a@example.com", "--amount", "5", "--memo", "m", "--json"],
        ["ledger", "recharge", "--user", "b@example.com", "--amount", "5", "--memo", "m", "--json"],
        names=ab,
    )
    cli.both(["ledger", "balance", "--user", "a@example.com", "--json"])
    cli.both(["ledger", "transactions", "--user", "a@example.com", "--json"])
    cli.both(["ledger", "transactions"])
    cli.both(["ledger", "verify", "--json"])
    cli.both(["ledger", "approvals", "--json"])
    cli.both(
        [
            "ledger",
            "adjust",
            "--user",
            "a@example.com",
            "--amount",
            "-1",
            "--reason",
            "fix",
            "--json",
        ],
        [
            "ledger",
            "adjust",
            "--user",
            "b@example.com",
            "--amount",
            "-1",
            "--reason",
            "fix",
            "--json",
        ],
        names=ab,
    )
    move = ["--amount", "1", "--memo", "share", "--json"]
    cli.both(
        ["ledger", "transfer", "--from-user", "a@example.com", "--to-user", "c@example.com", *move],
        ["ledger", "transfer", "--from-user", "b@example.com", "--to-user", "d@example.com", *move],
        names=[("a", "b"), ("c", "d")],
    )
    txns = cli.ok("ledger", "transactions", "--kind", "recharge", "--json")["items"]
    by_memo = {t["postings"][-1]["account_id"]: t["id"] for t in txns}
    assert len(by_memo) == 2
    first = next(iter(by_memo.values()))
    # Only usage can be refunded: the same refusal both ways.
    refused, _ = cli.both_fail("ledger", "refund", first, "--amount", "1", "--reason", "r")
    assert "Only usage can be refunded" in refused.err
    cli.both_fail(
        "ledger", "recharge", "--user", "a@example.com", "--amount", "1.0000001", "--memo", "m"
    )
    cli.both_fail("ledger", "balance", "--user", "nobody@example.com")
    cli.both_fail("ledger", "approve", "00000000-0000-0000-0000-000000000000")
    batch = ["--count", "2", "--amount", "3", "--memo", "gift", "--json"]
    lb, rb = cli.both(["codes", "create", *batch])
    cli.both(["codes", "list", "--json"])
    assert lb["codes"] != rb["codes"]
    cli.both(["codes", "revoke", lb["id"], "--json"], ["codes", "revoke", rb["id"], "--json"])
    assert local["status"] == remote["status"]


def test_prices_and_settings_print_the_same_both_ways(served: Cli) -> None:
    cli = served
    price = ["--input", "3", "--output", "15", "--json"]
    cli.both(
        ["prices", "set", "model-a", *price],
        ["prices", "set", "model-b", *price],
        names=("model-a", "model-b"),
    )
    cli.both(["prices", "list", "--json"])
    cli.both(["prices", "list", "--model", "model-a", "--history", "--json"])
    cli.both_fail("prices", "set", "m", "--input", "x", "--output", "1")
    cli.both(["settings", "show", "--json"])
    cli.both(["settings", "set", "time_zone", "Europe/Paris", "--json"])
    cli.both(["settings", "show"])
    cli.both_fail("settings", "set", "nope", "1")


def test_a_price_for_one_pool_account_both_ways(
    served: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = served
    monkeypatch.setenv("POOL_KEY", "sk-test-aaaaaaaaaaaaaaaa1234")
    add = ["--provider", "openai", "--base-url", "http://127.0.0.1:9/v1"]
    add += ["--api-key-env", "POOL_KEY", "--models", "gpt-5", "--json"]
    cli.ok("pool", "add", "--name", "Azure EU", *add)
    cli.ok("pool", "add", "--name", "azure-us", *add)
    price = ["--input", "2", "--output", "8", "--json"]
    local, _ = cli.both(
        ["prices", "set", "gpt-5", "--account", "azure eu", *price],
        ["prices", "set", "gpt-5", "--account", "azure-us", *price],
        names=("Azure EU", "azure-us"),
    )
    assert (local["model"], local["account"], local["input"]) == ("gpt-5", "Azure EU", "2.00")
    # The price follows the account when it is renamed (it is keyed by the account's id).
    cli.ok("pool", "edit", "Azure EU", "--name", "Azure West")
    listed = cli.ok("prices", "list", "--model", "gpt-5", "--json")["items"]
    assert sorted((p["account"] or "", p["output"]) for p in listed if p["account"]) == [
        ("Azure West", "8.00"),
        ("azure-us", "8.00"),
    ]
    assert [p["source"] for p in listed if not p["account"]] == ["genai-prices"]
    refused, _ = cli.both_fail("prices", "set", "gpt-5", "--account", "nobody", *price)
    assert "nobody" in refused.err
    at, _ = cli.both_fail("prices", "set", "@azure-us/gpt-5", *price)
    assert "--account" in at.err
