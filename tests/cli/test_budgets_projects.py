"""`spectra budgets ...` and `spectra projects ...` both ways: in process and with --server print
the same; bad input is the same one-sentence refusal both ways; every change is audited."""

from __future__ import annotations

from tests.cli.conftest import Cli


def test_key_budget_commands_print_the_same_both_ways(served: Cli) -> None:
    cli = served
    cli.ok("users", "create", "dev@example.com")
    key = cli.ok("keys", "create", "--user", "dev@example.com", "--json")["id"]
    local, _ = cli.both(
        ["budgets", "set", "--key", key, "--amount", "5.00", "--period", "day", "--json"]
    )
    assert (local["day"], local["day_micros"], local["mode"]) == ("5.00", 5_000_000, "hard")
    local, _ = cli.both(
        [
            "budgets", "set", "--key", key, "--amount", "100", "--period", "month",
            "--mode", "approval", "--rpm", "20", "--models", "claude-*", "--clients",
            "claude_code", "--json",
        ]
    )  # fmt: skip
    assert local["day"] == "5.00"
    assert (local["month"], local["mode"], local["rpm"]) == ("100.00", "approval", 20)
    assert (local["models"], local["clients"]) == (["claude-*"], ["claude_code"])
    shown, _ = cli.both(["budgets", "show", "--key", key, "--json"])
    assert shown == local | {"updated_at": shown["updated_at"]}
    listed, _ = cli.both(["budgets", "list", "--json"])
    assert [i["key_id"] for i in listed["items"]] == [key]
    cli.both(["budgets", "list"])
    cli.both_fail("budgets", "set", "--key", key, "--amount", "1.0000001", "--period", "day")
    cli.both_fail("budgets", "set", "--key", key, "--clients", "notatool")
    cli.both_fail("budgets", "set", "--key", key, "--amount", "1", "--period", "fortnight")
    cli.both_fail("budgets", "set", "--user", "dev@example.com", "--amount", "1")
    cleared = cli.ok("budgets", "clear", "--key", key, "--json")
    assert cleared["month"] == "100.00"
    cli.both_fail("budgets", "show", "--key", key)
    events = cli.ok("audit", "list", "--action", "budgets.*", "--limit", "50", "--json")["items"]
    actions = [e["action"] for e in events]
    assert actions.count("budgets.key_set") == 4
    assert actions.count("budgets.key_clear") == 1


def test_project_commands_print_the_same_both_ways(served: Cli) -> None:
    cli = served
    cli.ok("users", "create", "dev@example.com")
    key = cli.ok("keys", "create", "--user", "dev@example.com", "--json")["id"]
    local, remote = cli.both(
        ["projects", "create", "apollo", "--budget", "500", "--header", "--json"],
        ["projects", "create", "gemini", "--budget", "500", "--header", "--json"],
        names=("apollo", "gemini"),
    )
    assert (local["monthly_budget"], local["mode"], local["header_allowed"]) == (
        "500.00",
        "hard",
        True,
    )
    local, _ = cli.both(
        ["projects", "add-member", "apollo", "dev@example.com", "--json"],
        ["projects", "add-member", "gemini", "dev@example.com", "--json"],
        names=("apollo", "gemini"),
    )
    assert local["members"] == ["dev@example.com"]
    local = cli.ok("projects", "add-key", "apollo", key, "--json")
    assert local["keys"] == [key]
    moved = cli.ok("projects", "add-key", "gemini", key, "--json")
    assert moved["keys"] == [key]
    assert cli.ok("projects", "show", "apollo", "--json")["keys"] == []
    local = cli.ok("projects", "budget", "apollo", "--amount", "none", "--mode", "soft", "--json")
    remote = cli.remote(
        "projects", "budget", "gemini", "--amount", "none", "--mode", "soft", "--json"
    ).json
    assert (local["monthly_budget"], local["mode"]) == (None, "soft")
    assert (remote["monthly_budget"], remote["mode"]) == (None, "soft")
    listed, _ = cli.both(["projects", "list", "--json"])
    assert [p["name"] for p in listed["items"]] == ["apollo", "gemini"]
    report, _ = cli.both(
        ["projects", "report", "apollo", "--json"],
        ["projects", "report", "gemini", "--json"],
        names=("apollo", "gemini"),
    )  # both have no usage yet
    assert (report["requests"], report["cost"], report["charged"]) == (0, "0.00", "0.00")
    cli.both(["projects", "report", "apollo"], ["projects", "report", "gemini"],
             names=("apollo", "gemini"))  # fmt: skip
    cli.both_fail("projects", "create", "apollo")
    cli.both_fail("projects", "create", "two words")
    cli.both_fail("projects", "show", "nope")
    cli.both_fail("projects", "budget", "apollo", "--mode", "sometimes")
    cli.both_fail("budgets", "set", "--project", "apollo", "--amount", "5", "--period", "day")
    gone = cli.ok("projects", "remove", "apollo", "--member", "dev@example.com", "--json")
    assert gone["members"] == []
    cli.ok("projects", "remove", "apollo")
    cli.both_fail("projects", "show", "apollo")
    assert [p["name"] for p in cli.ok("projects", "list", "--json")["items"]] == ["gemini"]
    events = cli.ok("audit", "list", "--action", "projects.*", "--limit", "50", "--json")["items"]
    actions = sorted({e["action"] for e in events})
    assert actions == [
        "projects.add_key",
        "projects.add_member",
        "projects.budget",
        "projects.create",
        "projects.remove",
    ]


def test_extension_requests_through_the_cli(served: Cli) -> None:
    cli = served
    cli.ok("users", "create", "dev@example.com")
    key = cli.ok("keys", "create", "--user", "dev@example.com", "--json")["id"]
    cli.ok("budgets", "set", "--key", key, "--amount", "1", "--period", "day")
    cli.both_fail("budgets", "extensions", "request", "--key", key, "--amount", "5")
    cli.ok("budgets", "set", "--key", key, "--mode", "approval")
    made = cli.ok(
        "budgets", "extensions", "request", "--key", key, "--amount", "5", "--reason", "demo",
        "--json",
    )  # fmt: skip
    assert (made["status"], made["amount"]) == ("pending", "5.00")
    # The local actor asked, so the local actor may not approve it (four eyes).
    refused = cli.local(
        "budgets", "extensions", "approve", made["id"], "--expires", "2099-01-01T00:00:00+00:00"
    )
    assert refused.code != 0
    assert "Someone else" in refused.err
    approved = cli.remote(
        "budgets", "extensions", "approve", made["id"], "--expires", "2099-01-01T00:00:00+00:00",
        "--json",
    )  # fmt: skip
    assert approved.code == 0, approved.err
    assert approved.json["status"] == "approved"
    cli.both_fail("budgets", "extensions", "reject", made["id"])
    listed, _ = cli.both(["budgets", "extensions", "list", "--json"])
    assert [(i["status"], i["expires_at"]) for i in listed["items"]] == [
        ("approved", "2099-01-01T00:00:00Z")
    ]
