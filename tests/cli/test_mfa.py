"""`spectra users mfa reset EMAIL` both ways (in process and with --server), through the API."""

from __future__ import annotations

from tests.cli.conftest import Cli


def test_mfa_reset_prints_the_same_both_ways(served: Cli) -> None:
    cli = served
    cli.ok("users", "create", "ada@example.com")
    cli.ok("users", "create", "bob@example.com")
    local, _ = cli.both(
        ["users", "mfa", "reset", "ada@example.com", "--json"],
        ["users", "mfa", "reset", "bob@example.com", "--json"],
        names=("ada@example.com", "bob@example.com"),
    )
    assert local == {"email": "ada@example.com", "totp": 0, "passkeys": 0, "recovery_codes": 0}
    audit = cli.ok("audit", "list", "--json")
    resets = [e for e in audit["items"] if e["action"] == "users.mfa_reset"]
    assert sorted(e["target_label"] for e in resets) == ["ada@example.com", "bob@example.com"]
    text = cli.local("users", "mfa", "reset", "ada@example.com")
    assert text.code == 0
    assert "Second factors of ada@example.com removed" in text.out


def test_mfa_reset_of_an_unknown_user_fails_the_same_both_ways(served: Cli) -> None:
    first, _ = served.both_fail("users", "mfa", "reset", "nobody@example.com")
    assert "nobody@example.com" in first.err
