"""`spectra rollouts owner NAME --user EMAIL | --clear` and `spectra rollouts watch add|remove|list
NAME --user EMAIL`, in process on the test database (actor local:<os user>)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from tests.conftest import TEST_SECRET
from typer.testing import CliRunner

from spectra.cli.main import app as cli_app
from spectra.config import Settings, reset_settings
from spectra.db.serverkey import set_server_keys
from spectra.runtime import Runtime


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
    yield CliRunner()
    reset_settings()
    set_server_keys(runtime.keys)


def _run(cli: CliRunner, *args: str, ok: bool = True) -> tuple[int, str, str]:
    result = cli.invoke(cli_app, list(args))
    if ok:
        assert result.exit_code == 0, result.stderr
    return result.exit_code, result.stdout, result.stderr


def test_cli_owner_and_watchers(cli: CliRunner) -> None:
    _run(cli, "users", "create", "ana@example.com")
    _run(cli, "rollouts", "create", "Opus", "--cohort", "all:groups=default;models=claude-opus-*")

    _, out, _ = _run(cli, "rollouts", "owner", "Opus", "--user", "ana@example.com", "--json")
    assert json.loads(out)["owner"]["email"] == "ana@example.com"
    _, out, _ = _run(cli, "rollouts", "watch", "add", "Opus", "--user", "ana@example.com", "--json")
    assert [w["email"] for w in json.loads(out)["watchers"]] == ["ana@example.com"]
    _, out, _ = _run(cli, "rollouts", "watch", "list", "Opus")
    assert "owner ana@example.com" in out
    assert out.count("ana@example.com") == 2  # the owner line and the watchers' table
    _, out, _ = _run(
        cli, "rollouts", "watch", "remove", "Opus", "--user", "ana@example.com", "--json"
    )
    assert json.loads(out)["watchers"] == []
    code, _, err = _run(
        cli, "rollouts", "watch", "remove", "Opus", "--user", "ana@example.com", ok=False
    )
    assert code != 0
    assert "does not watch" in err
    _, out, _ = _run(cli, "rollouts", "owner", "Opus", "--clear", "--json")
    assert json.loads(out)["owner"] is None
