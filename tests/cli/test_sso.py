"""`spectra sso add|list|show|test|remove` both ways (in process and with --server), with
`test` fetching discovery and the key set from a real `oidc-provider`."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.cli.conftest import OWNER, Cli, free_port
from tests.sso.real_idp import real_idp


def _add(name: str, issuer: str) -> list[str]:
    return [
        "sso",
        "add",
        name,
        "--issuer",
        issuer,
        "--client-id",
        "spectra",
        "--client-secret-env",
        "SSO_SECRET",
        "--allowed-domains",
        "example.com",
        "--groups-claim",
        "groups",
        "--map",
        "spectra-admins=:admin",
        "--require-sso",
        "--break-glass-owner",
        OWNER,
        "--session-minutes",
        "480",
        "--json",
    ]


def test_sso_commands_print_the_same_both_ways(
    served: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cli = served
    monkeypatch.setenv("SSO_SECRET", "oidc-test-secret-5678")
    with real_idp(
        tmp_path,
        port=free_port(),
        redirect_uri="http://127.0.0.1:9/console/sso/Okta/callback",
        post_logout_uri="http://127.0.0.1:9/console/login",
        claims={"sub": "x"},
    ) as idp:
        local, _ = cli.both(
            _add("Okta", idp.issuer), _add("Entra", idp.issuer), names=("Okta", "Entra")
        )
        assert local["client_secret_last4"] == "5678"
        assert "oidc-test-secret" not in str(local)
        assert local["group_mappings"] == [
            {"claim": "spectra-admins", "group": None, "role": "admin"}
        ]
        listed, _ = cli.both(["sso", "list", "--json"])
        assert [p["name"] for p in listed["items"]] == ["Entra", "Okta"]
        cli.both(["sso", "list"])
        cli.both(["sso", "show", "Okta", "--json"])
        report, _ = cli.both(["sso", "test", "Okta", "--json"])
        assert report["ok"] is True
        assert report["issuer"] == idp.issuer
        assert report["supports_pkce_s256"] is True
        assert report["end_session_endpoint"]
        assert report["key_ids"]
    unreachable = cli.local("sso", "test", "Okta", "--json")
    assert unreachable.code == 1
    assert "Could not fetch" in unreachable.json["message"]
    cli.both_fail("sso", "show", "Nope")
    monkeypatch.setenv("SSO_SECRET", "")
    cli.both_fail(*_add("Other", "https://idp.example.com"))
    local_rm = cli.local("sso", "remove", "Okta")
    remote_rm = cli.remote("sso", "remove", "Entra")
    assert (local_rm.code, remote_rm.code) == (0, 0)
    assert cli.ok("sso", "list", "--json")["items"] == []
