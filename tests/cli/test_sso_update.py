"""`spectra sso update NAME ...` both ways (in process and with --server): only the options given
change, a new secret comes from an environment variable and is never printed."""

from __future__ import annotations

import pytest
from tests.cli.conftest import Cli


def _add(cli: Cli, name: str) -> None:
    cli.ok(
        "sso",
        "add",
        name,
        "--issuer",
        "https://idp.example.com",
        "--client-id",
        "spectra",
        "--client-secret-env",
        "SSO_SECRET",
        "--groups-claim",
        "groups",
        "--map",
        "spectra-admins=:admin",
        "--json",
    )


def test_sso_update_prints_the_same_both_ways(served: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    cli = served
    monkeypatch.setenv("SSO_SECRET", "first-secret-1234")
    _add(cli, "Okta")
    _add(cli, "Entra")
    monkeypatch.setenv("NEW_SECRET", "second-secret-9876")
    args = [
        "--client-secret-env",
        "NEW_SECRET",
        "--allowed-domains",
        "example.com,example.org",
        "--map",
        "devs=:member",
        "--map",
        "leads=:admin",
        "--session-minutes",
        "90",
        "--trust-email",
        "--disable",
        "--json",
    ]
    local, _ = cli.both(
        ["sso", "update", "Okta", *args], ["sso", "update", "Entra", *args], names=("Okta", "Entra")
    )
    assert local["client_secret_last4"] == "9876"
    assert "second-secret" not in str(local)
    assert local["allowed_domains"] == ["example.com", "example.org"]
    assert [m["claim"] for m in local["group_mappings"]] == ["devs", "leads"]
    assert (local["session_ttl_minutes"], local["trust_email"], local["is_enabled"]) == (
        90,
        True,
        False,
    )
    assert local["client_id"] == "spectra"
    again = cli.ok("sso", "update", "Okta", "--enable", "--session-minutes", "0", "--json")
    assert (again["is_enabled"], again["session_ttl_minutes"]) == (True, None)
    assert again["client_secret_last4"] == "9876"
    cleared = cli.ok("sso", "update", "Okta", "--clear-maps", "--groups-claim", "", "--json")
    assert (cleared["group_mappings"], cleared["groups_claim"]) == ([], None)


def test_sso_update_refusals_are_the_same_both_ways(served: Cli) -> None:
    nothing, _ = served.both_fail("sso", "update", "Okta")
    assert "Nothing to change" in nothing.err
    missing, _ = served.both_fail("sso", "update", "Nope", "--client-id", "x")
    assert "Nope" in missing.err
