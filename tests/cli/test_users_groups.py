"""`spectra users|groups|keys|tokens` both ways: in process and with --server print the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from tests.cli.conftest import OWNER, Cli


def test_users_commands_print_the_same_both_ways(served: Cli, tmp_path: Path) -> None:
    cli = served
    cli.both(
        ["groups", "create", "Platform", "--monthly-cap", "300", "--json"],
        ["groups", "create", "Mobile", "--monthly-cap", "300", "--json"],
        names=("Platform", "Mobile"),
    )
    cli.both(
        ["users", "create", "a@example.com", "--group", "Platform", "--json"],
        ["users", "create", "b@example.com", "--group", "Platform", "--json"],
        names=("a", "b"),
    )
    local, remote = cli.both(
        ["users", "create", "inv-a@example.com", "--invite", "--json"],
        ["users", "create", "inv-b@example.com", "--invite", "--json"],
        names=("inv-a", "inv-b"),
    )
    assert "/console/setup?token=" in local["setup_link"]["url"]
    assert local["setup_link"]["token"] != remote["setup_link"]["token"]
    cli.both(["users", "list", "--json"])
    cli.both(["users", "list", "--group", "Platform", "--limit", "1", "--json"])
    cli.both(["users", "list"])
    cli.both(["users", "show", "a@example.com", "--json"])
    cli.both(["users", "show", "a@example.com"])
    cli.both(
        ["users", "update", "a@example.com", "--name", "Ann", "--json"],
        ["users", "update", "b@example.com", "--name", "Ann", "--json"],
        names=("a", "b"),
    )
    cli.both(
        ["users", "suspend", "a@example.com", "--reason", "left", "--json"],
        ["users", "suspend", "b@example.com", "--reason", "left", "--json"],
        names=("a", "b"),
    )
    cli.both(
        ["users", "reactivate", "a@example.com", "--json"],
        ["users", "reactivate", "b@example.com", "--json"],
        names=("a", "b"),
    )
    cli.both(
        ["users", "set-role", "a@example.com", "admin", "--json"],
        ["users", "set-role", "b@example.com", "admin", "--json"],
        names=("a", "b"),
    )
    cli.both(
        ["users", "move", "a@example.com", "Mobile", "--json"],
        ["users", "move", "b@example.com", "Mobile", "--json"],
        names=("a", "b"),
    )
    cli.both(["users", "set-password", "a@example.com"], input="a long enough password\n")
    cli.both(["users", "setup-link", "a@example.com", "--json"])
    cli.both(
        ["users", "remove", "inv-a@example.com", "--reason", "gone", "--json"],
        ["users", "remove", "inv-b@example.com", "--reason", "gone", "--json"],
        names=("inv-a", "inv-b"),
    )
    cli.both_fail("users", "show", "nobody@example.com")
    cli.both_fail("users", "create", "a@example.com")
    cli.both_fail("users", "set-role", "a@example.com", "wizard")
    cli.both_fail("users", "set-password", "a@example.com", input="short\n")
    good = tmp_path / "good.csv"
    good.write_text("c1@example.com,C,,\n")
    other = tmp_path / "other.csv"
    other.write_text("c2@example.com,C,,\n")
    cli.both(
        ["users", "import", str(good), "--json"],
        ["users", "import", str(other), "--json"],
        names=("c1", "c2"),
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("ok@example.com,Ok,,\nnope,Bad,,\n")
    first, _ = cli.both_fail("users", "import", str(bad), report=True)
    assert "line 2 (nope)" in first.err


def test_groups_commands_print_the_same_both_ways(served: Cli) -> None:
    cli = served
    cli.both(
        ["groups", "create", "G1", "--description", "d", "--json"],
        ["groups", "create", "G2", "--description", "d", "--json"],
        names=("G1", "G2"),
    )
    cli.both(["groups", "list", "--json"])
    cli.both(["groups", "list"])
    cli.both(["groups", "show", "G1", "--json"])
    cli.both(
        ["groups", "update", "G1", "--member-monthly-cap", "25.5", "--json"],
        ["groups", "update", "G2", "--member-monthly-cap", "25.5", "--json"],
        names=("G1", "G2"),
    )
    cli.both_fail("groups", "show", "Nope")
    cli.both_fail("groups", "update", "G1", "--monthly-cap", "1.0000001")


def test_keys_and_tokens_print_the_same_both_ways(served: Cli) -> None:
    cli = served
    cli.ok("users", "create", "m@example.com")
    local, remote = cli.both(["keys", "create", "--user", "m@example.com", "--name", "k", "--json"])
    assert local["secret"] != remote["secret"]
    _, listed = cli.both(["keys", "list", "--user", "m@example.com", "--json"])
    _, shown = cli.both(["keys", "show", local["id"], "--json"])
    # The CLI parses answers into the API's read models and prints them back: exactly the API's
    # own JSON, field for field.
    assert shown == _api(cli, f"/api/keys/{local['id']}")
    assert listed == _api(cli, "/api/keys", user_email="m@example.com")
    cli.both(
        ["keys", "rotate", local["id"], "--grace-hours", "1", "--json"],
        ["keys", "rotate", remote["id"], "--grace-hours", "1", "--json"],
    )
    cli.both(
        ["keys", "revoke", local["id"], "--reason", "lost", "--json"],
        ["keys", "revoke", remote["id"], "--reason", "lost", "--json"],
    )
    cli.both_fail("keys", "show", "not-an-id")
    cli.both_fail("keys", "show", "00000000-0000-0000-0000-000000000000")
    # Over the network a token is only ever created for its own user.
    tl, tr = cli.both(
        ["tokens", "create", "--user", OWNER, "--read-only", "--json"],
        ["tokens", "create", "--read-only", "--json"],
    )
    cli.both(["tokens", "list", "--user", OWNER, "--json"])
    assert cli.remote("tokens", "create", "--user", "m@example.com").code == 6
    cli.both(["tokens", "revoke", tl["id"], "--json"], ["tokens", "revoke", tr["id"], "--json"])


def test_an_unknown_email_is_one_rule_both_ways(served: Cli) -> None:
    """Owner (local or over HTTP): a clear "no such user". A member's token over HTTP: the same
    refusal for an email that does not exist as for one that does."""
    cli = served
    cli.ok("users", "create", "m@example.com")
    cli.ok("users", "create", "other@example.com")
    nobody = "nobody-here@example.com"
    for command in (("ledger", "balance"), ("keys", "list"), ("usage", "list")):
        first, _ = cli.both_fail(*command, "--user", nobody)
        assert nobody in first.err
    cli.token = cli.ok("tokens", "create", "--user", "m@example.com", "--json")["secret"]
    named: tuple[tuple[str, ...], ...] = (
        ("ledger", "balance", "--user"),
        ("keys", "list", "--user"),
        ("usage", "list", "--user"),
        ("users", "show"),
    )
    for words in named:
        known = cli.remote(*words, "other@example.com")
        unknown = cli.remote(*words, nobody)
        assert known.code == unknown.code != 0
        assert known.err == unknown.err.replace(nobody, "other@example.com")


def _api(cli: Cli, path: str, **params: str) -> Any:
    """The served API's own JSON answer to `GET path` (the CLI's token)."""
    assert cli.server is not None
    response = httpx.get(
        cli.server + path, params=params, headers={"authorization": f"Bearer {cli.token}"}
    )
    assert response.status_code == 200, response.text
    return response.json()
