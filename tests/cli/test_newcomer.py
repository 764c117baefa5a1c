"""The newcomer's path on the command line: a local command says which workspace it acts on
(stderr, one line, never in --json output), links name the running server, and `spectra demo`
restarts on a demo the newcomer changed, starts over with --reset, and is found by the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.cli.conftest import OWNER, Cli


def test_a_local_command_names_its_workspace_on_stderr_only(cli: Cli) -> None:
    cli.ok("users", "create", "ann@example.com")
    local = cli.local("users", "list", "--json")

    assert local.code == 0, local.err
    assert [u["email"] for u in json.loads(local.out)["items"]] == ["ann@example.com"]
    assert local.workspace.startswith("Workspace: ")
    database = cli.env.get("SPECTRA_DATABASE_URL", "")
    assert database.split("@")[-1].split("///")[-1] in local.workspace
    assert "acting as local:" in local.workspace
    assert local.err == ""


def test_a_remote_command_prints_no_workspace_line(served: Cli) -> None:
    remote = served.remote("users", "list", "--json")
    assert remote.code == 0
    assert "Workspace:" not in remote.err


def test_a_local_setup_link_names_the_running_server(served: Cli) -> None:
    assert served.server is not None
    link = served.ok("users", "setup-link", OWNER, "--json")
    assert link["url"].startswith(served.server + "/console/setup?token=")


def _spectra(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRA_")}
    return subprocess.run(
        [sys.executable, "-m", "spectra", *args],
        cwd=cwd,
        env=base | {"COLUMNS": "400"} | env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _emails(cwd: Path) -> set[str]:
    listed = _spectra(cwd, "users", "list", "--json", "--limit", "100")
    assert listed.returncode == 0, listed.stderr
    return {u["email"] for u in json.loads(listed.stdout)["items"]}


@pytest.mark.slow
def test_the_demo_restarts_resets_and_is_found_by_the_cli(tmp_path: Path, dialect: str) -> None:
    if dialect != "sqlite":
        pytest.skip("the demo's own data directory is SQLite whatever the suite runs on")
    demo = ("demo", "--seed-only", "--days", "1", "--volume", "0.02")

    first = _spectra(tmp_path, *demo)
    assert first.returncode == 0, first.stdout + first.stderr
    data_dir = (tmp_path / ".spectra-demo").resolve()
    assert f"export SPECTRA_DATA_DIR={data_dir}" in first.stdout
    assert "codex -c model_provider=spectra" in first.stdout
    assert "OPENAI_BASE_URL" not in first.stdout

    # No SPECTRA_DATA_DIR and no ./.spectra: the CLI acts on the demo, and says so.
    created = _spectra(tmp_path, "users", "create", "newcomer@example.com", "--json")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["email"] == "newcomer@example.com"
    assert created.stderr.startswith(f"Workspace: {data_dir} (the demo's")
    assert "priya@demo.spectra.local" in _emails(tmp_path)

    again = _spectra(tmp_path, *demo)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "newcomer@example.com" in _emails(tmp_path)

    reset = _spectra(tmp_path, *demo, "--reset")
    assert reset.returncode == 0, reset.stdout + reset.stderr
    emails = _emails(tmp_path)
    assert "newcomer@example.com" not in emails
    assert "priya@demo.spectra.local" in emails


def test_reset_refuses_a_real_workspace(tmp_path: Path, dialect: str) -> None:
    if dialect != "sqlite":
        pytest.skip("the demo's own data directory is SQLite whatever the suite runs on")
    real = tmp_path / "real"
    made = _spectra(tmp_path, "users", "create", "cfo@acme.example", SPECTRA_DATA_DIR=str(real))
    assert made.returncode == 0, made.stderr

    refused = _spectra(tmp_path, "demo", "--seed-only", "--reset", "--data-dir", str(real))

    assert refused.returncode != 0
    assert "did not create (cfo@acme.example" in refused.stdout + refused.stderr
    assert (real / "spectra.db").exists()


def test_tables_keep_their_full_width_when_piped(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)  # COLUMNS decides when set (xdist sets 80)
    email = "a.very-long-address-for-a-table@subdomain.example-company.com"
    cli.ok("users", "create", email, "--name", "Someone With A Rather Long Full Name")
    table = cli.ok("users", "list")
    assert email in table
    assert "Someone With A Rather Long Full Name" in table
    assert max(len(line) for line in table.splitlines()) > 80


def test_tokens_create_help_says_what_it_asks_for(cli: Cli) -> None:
    help_text = " ".join(cli.local("tokens", "create", "--help").out.split())
    refused = cli.local("tokens", "create")
    assert "required without --server" in help_text
    assert refused.code == 2
    assert "--user EMAIL" in refused.err
