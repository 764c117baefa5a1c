"""The `spectra users|groups|audit` commands on the local database (actor local:<os user>)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import TEST_SECRET
from typer.testing import CliRunner

from spectra.cli.main import app as cli_app
from spectra.config import Settings, reset_settings
from spectra.db.serverkey import set_server_keys
from spectra.runtime import Runtime

runner = CliRunner()


@pytest.fixture
def cli(
    runtime: Runtime, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    """The CLI pointed at the test database (tables are emptied after the test by `runtime`)."""
    monkeypatch.setenv("SPECTRA_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("SPECTRA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SPECTRA_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("SPECTRA_AUTO_MIGRATE", "false")
    monkeypatch.delenv("SPECTRA_SERVER", raising=False)
    reset_settings()
    yield runner
    reset_settings()
    set_server_keys(runtime.keys)


def run(cli: CliRunner, *args: str, input: str | None = None) -> tuple[int, str, str]:
    result = cli.invoke(cli_app, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


def test_users_create_list_show_and_status(cli: CliRunner) -> None:
    code, out, err = run(cli, "groups", "create", "Platform", "--monthly-cap", "300", "--json")
    assert code == 0, err
    assert json.loads(out)["monthly_cap"] == "300.00"
    code, out, err = run(
        cli,
        "users",
        "create",
        "Priya@Example.com",
        "--name",
        "Priya",
        "--group",
        "platform",
        "--json",
    )
    assert code == 0, err
    assert (json.loads(out)["email"], json.loads(out)["group"]) == ("priya@example.com", "Platform")
    code, out, _ = run(cli, "users", "list", "--group", "Platform", "--json", "--limit", "5")
    page = json.loads(out)
    assert [u["email"] for u in page["items"]] == ["priya@example.com"]
    assert page["next_cursor"] is None
    assert run(cli, "users", "suspend", "priya@example.com", "--reason", "left")[0] == 0
    code, out, _ = run(cli, "users", "show", "priya@example.com", "--json")
    assert (json.loads(out)["status"], json.loads(out)["status_reason"]) == ("suspended", "left")
    assert run(cli, "users", "reactivate", "priya@example.com")[0] == 0
    code, _, err = run(cli, "users", "create", "PRIYA@example.com")
    assert code == 4
    assert "already exists" in err


def test_users_set_password_reads_stdin(cli: CliRunner) -> None:
    run(cli, "users", "create", "pw@example.com")
    code, out, err = run(
        cli, "users", "set-password", "pw@example.com", input="a long enough password\n"
    )
    assert code == 0, err
    assert "Password set" in out
    code, _, err = run(cli, "users", "set-password", "pw@example.com", input="short\n")
    assert code == 2
    assert "at least 12 characters" in err


def test_users_set_role_refuses_the_last_owner(cli: CliRunner) -> None:
    run(cli, "users", "create", "boss@example.com", "--role", "owner")
    code, _, err = run(cli, "users", "set-role", "boss@example.com", "admin")
    assert code == 4
    assert "last active owner" in err
    code, _, err = run(cli, "users", "set-role", "boss@example.com", "wizard")
    assert code == 2


def test_users_import_is_all_or_nothing_with_a_report(cli: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "email,name,group,role\nok@example.com,Ok,,\nnope,Bad,,\nx@example.com,X,Ghosts,\n"
    )
    code, _, err = run(cli, "users", "import", str(bad))
    assert code == 2
    assert "line 3 (nope)" in err
    assert "line 4 (x@example.com): no group 'Ghosts'" in err
    assert "nothing was imported" in err
    assert json.loads(run(cli, "users", "list", "--json")[1])["items"] == []
    good = tmp_path / "good.csv"
    good.write_text("ok@example.com,Ok,,\nalso@example.com,Also,,\n")
    code, out, _ = run(cli, "users", "import", str(good))
    assert code == 0
    assert "Imported 2 users" in out


def test_users_move_and_groups_update(cli: CliRunner) -> None:
    run(cli, "groups", "create", "Mobile")
    run(cli, "users", "create", "tom@example.com")
    _, out, _ = run(cli, "users", "move", "tom@example.com", "Mobile", "--json")
    assert json.loads(out)["group"] == "Mobile"
    _, out, _ = run(cli, "groups", "update", "Mobile", "--member-monthly-cap", "25.5", "--json")
    assert json.loads(out)["member_monthly_cap"] == "25.50"
    _, out, _ = run(cli, "groups", "update", "Mobile", "--member-monthly-cap", "none", "--json")
    assert json.loads(out)["member_monthly_cap"] is None
    _code, out, _ = run(cli, "groups", "list", "--json")
    counts = {g["name"]: g["member_count"] for g in json.loads(out)["items"]}
    assert counts["Mobile"] == 1


def test_audit_list_export_and_verify(
    cli: CliRunner, tmp_path: Path, settings: Settings, dialect: str
) -> None:
    run(cli, "groups", "create", "Audited")
    run(cli, "users", "create", "a@example.com")
    code, out, _ = run(cli, "audit", "list", "--action", "users.*", "--json")
    assert [e["action"] for e in json.loads(out)["items"]] == ["users.create"]
    target = tmp_path / "audit.csv"
    code, out, err = run(cli, "audit", "export", "--format", "csv", "--output", str(target))
    assert code == 0, err
    assert target.read_text().splitlines()[0].startswith("id,occurred_at")
    assert "Exported" in out
    code, out, _ = run(cli, "audit", "verify")
    assert code == 0
    assert "intact" in out
    if dialect != "sqlite":
        pytest.skip(
            "the direct SQL edit below uses the SQLite file; test_tamper.py covers both databases"
        )
    db_file = settings.resolved_database_url.split("///", 1)[1]
    with sqlite3.connect(db_file) as conn:
        conn.execute("UPDATE audit_events SET target_label = 'forged' WHERE id = 2")
    code, _, err = run(cli, "audit", "verify")
    assert code == 1
    assert "broken at event 2" in err
