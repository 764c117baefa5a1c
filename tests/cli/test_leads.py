"""`spectra groups leads add|list|remove` and `spectra users groups add|list|remove`, both ways
(in process and against a real `spectra serve`), and the refusals a lead meets."""

from __future__ import annotations

import httpx
from tests.cli.conftest import Cli


def test_leads_and_secondary_groups_both_ways(served: Cli) -> None:
    cli = served
    cli.ok("groups", "create", "mobile")
    cli.ok("groups", "create", "web")
    cli.ok("users", "create", "lead@example.com", "--group", "mobile")
    local, _ = cli.both(
        ["groups", "leads", "add", "mobile", "lead@example.com", "--approval-limit", "40", "--json"]
    )
    assert (local["email"], local["approval_limit"], local["approval_limit_micros"]) == (
        "lead@example.com",
        "40.00",
        40_000_000,
    )
    listed, _ = cli.both(["groups", "leads", "list", "mobile", "--json"])
    assert [i["email"] for i in listed["items"]] == ["lead@example.com"]

    added = cli.ok("users", "groups", "add", "lead@example.com", "web", "--json")
    assert (added["group"], added["is_primary"]) == ("web", False)
    bound = cli.ok("keys", "create", "--user", "lead@example.com", "--group", "web", "--json")
    assert bound["group_id"] == added["group_id"]
    outside = cli.local("keys", "create", "--user", "lead@example.com", "--group", "default")
    assert outside.code != 0
    assert "not in the group default" in outside.err
    groups, _ = cli.both(["users", "groups", "list", "lead@example.com", "--json"])
    assert [(g["group"], g["is_primary"]) for g in groups["items"]] == [
        ("mobile", True),
        ("web", False),
    ]
    cli.ok("users", "groups", "remove", "lead@example.com", "web")
    refused = cli.local("users", "groups", "remove", "lead@example.com", "mobile")
    assert refused.code != 0
    assert "primary group" in refused.err

    removed = cli.local("groups", "leads", "remove", "mobile", "lead@example.com")
    assert removed.code == 0, removed.err
    again = cli.remote("groups", "leads", "remove", "mobile", "lead@example.com")
    assert again.code != 0
    assert "does not lead" in again.err


def test_a_bad_limit_and_an_outsider_are_refused(served: Cli) -> None:
    cli = served
    cli.ok("groups", "create", "mobile")
    cli.ok("users", "create", "outsider@example.com")
    bad = cli.local(
        "groups", "leads", "add", "mobile", "outsider@example.com", "--approval-limit", "1.1234567"
    )
    assert bad.code == 2
    first, _ = cli.both_fail("groups", "leads", "add", "mobile", "outsider@example.com")
    assert "is not in the group mobile" in first.err


def test_a_lead_token_sees_only_their_group(served: Cli) -> None:
    cli = served
    cli.ok("groups", "create", "mobile")
    cli.ok("groups", "create", "web")
    cli.ok("users", "create", "lead@example.com", "--group", "mobile")
    cli.ok("users", "create", "dev@example.com", "--group", "mobile")
    cli.ok("users", "create", "other@example.com", "--group", "web")
    cli.ok("groups", "leads", "add", "mobile", "lead@example.com")
    token = cli.ok("tokens", "create", "--user", "lead@example.com", "--json")["secret"]
    assert cli.server is not None
    lead = {"authorization": f"Bearer {token}"}
    users = httpx.get(f"{cli.server}/api/users", headers=lead).json()
    assert {u["email"] for u in users["items"]} == {"lead@example.com", "dev@example.com"}
    other = httpx.get(f"{cli.server}/api/users/other@example.com", headers=lead)
    unknown = httpx.get(f"{cli.server}/api/users/nobody@example.com", headers=lead)
    assert other.status_code == unknown.status_code == 403
    assert other.json()["error"] == unknown.json()["error"]
