"""`spectra usage statement|forecast --by project` both ways (in process and with --server): the
flag reaches the service, the table names the grouping, an unknown grouping is refused."""

from __future__ import annotations

from tests.cli.conftest import Cli


def test_statement_and_forecast_by_project_both_ways(served: Cli) -> None:
    cli = served
    cli.ok("users", "create", "a@example.com")
    cli.ok("projects", "create", "apollo")
    local, _ = cli.both(
        ["usage", "statement", "--user", "a@example.com", "--by", "project", "--json"]
    )
    assert (local["by_project"], local["by_project_reconciles"]) == ([], True)
    table, _ = cli.both(["usage", "statement", "--user", "a@example.com", "--by", "project"])
    assert "Usage by project" in table
    assert "projects sum to the usage and refunds lines" in table
    plain = cli.local("usage", "statement", "--user", "a@example.com", "--json").json
    assert plain["by_project"] is None
    forecast, _ = cli.both(["usage", "forecast", "--by", "project", "--json"])
    assert [item["subject"] for item in forecast["items"]] == ["workspace"]
    cli.both_fail("usage", "statement", "--user", "a@example.com", "--by", "planet")
    cli.both_fail("usage", "forecast", "--by", "project", "--user", "a@example.com")
