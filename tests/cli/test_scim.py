"""`spectra scim token create` both ways; the token works at /scim/v2 only."""

from __future__ import annotations

import httpx
from tests.cli.conftest import OWNER, Cli


def test_scim_token_create_prints_the_same_both_ways_and_works_only_at_scim(served: Cli) -> None:
    cli = served
    local, remote = cli.both(
        ["scim", "token", "create", "--user", OWNER, "--name", "Okta", "--json"]
    )
    for created in (local, remote):
        assert created["secret"].startswith("st-spectra-")
        assert (created["scope"], created["name"], created["user_email"]) == ("scim", "Okta", OWNER)
    table = cli.local("scim", "token", "create", "--user", OWNER)
    assert table.code == 0, table.err
    assert "shown once" in table.out
    assert cli.server is not None
    bearer = {"authorization": f"Bearer {remote['secret']}"}
    config = httpx.get(f"{cli.server}/scim/v2/ServiceProviderConfig", headers=bearer)
    assert config.status_code == 200, config.text
    assert config.json()["patch"]["supported"] is True
    refused = httpx.get(f"{cli.server}/api/users", headers=bearer)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_token"
    api_token = {"authorization": f"Bearer {cli.token}"}
    assert httpx.get(f"{cli.server}/scim/v2/Users", headers=api_token).status_code == 401
    listed = cli.ok("tokens", "list", "--json")
    assert sorted(t["scope"] or "api" for t in listed["items"]) == ["api", "scim", "scim", "scim"]


def test_a_member_cannot_get_a_scim_token(cli: Cli) -> None:
    cli.ok("users", "create", "member@example.com")
    refused = cli.local("scim", "token", "create", "--user", "member@example.com")
    assert refused.code != 0
    assert "permission" in refused.err.lower() or "manage users" in refused.err.lower()
    missing = cli.local("scim", "token", "create")
    assert missing.code == 2
