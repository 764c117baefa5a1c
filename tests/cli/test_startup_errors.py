"""Start-up failures stop with one clear sentence and a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PG_URL = os.environ.get("SPECTRA_TEST_DATABASE_URL")


def spectra(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRA_")}
    full_env.update({"SPECTRA_DATA_DIR": str(data_dir), **env})
    return subprocess.run(
        [sys.executable, "-m", "spectra", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
        check=False,
    )


def assert_one_sentence(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    # A local command first names the workspace it acts on (one line), then the one sentence.
    message = re.sub(r"\AWorkspace: [^\n]*\n", "", result.stderr).strip()
    assert message.count("\n") == 0, message
    for fragment in fragments:
        assert fragment in message, message


def test_a_wrong_database_url_is_one_sentence(tmp_path: Path) -> None:
    result = spectra(["migrate"], tmp_path, SPECTRA_DATABASE_URL="mysql://root@localhost/x")
    assert_one_sentence(result, "SPECTRA_DATABASE_URL", "PostgreSQL")


def test_an_unparseable_database_url_is_one_sentence(tmp_path: Path) -> None:
    result = spectra(["migrate"], tmp_path, SPECTRA_DATABASE_URL="not a url")
    assert_one_sentence(result, "SPECTRA_DATABASE_URL")


def test_an_unreachable_database_is_one_sentence(tmp_path: Path) -> None:
    result = spectra(
        ["settings", "show"],
        tmp_path,
        SPECTRA_DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:1/test",
    )
    assert_one_sentence(result, "cannot be reached")


def test_a_missing_secret_for_an_existing_database_is_one_sentence(tmp_path: Path) -> None:
    assert spectra(["settings", "show"], tmp_path).returncode == 0
    (tmp_path / "secret.key").unlink()
    result = spectra(["settings", "show"], tmp_path)
    assert_one_sentence(result, "secret", "missing")


def test_a_changed_secret_is_one_sentence(tmp_path: Path) -> None:
    assert spectra(["settings", "show"], tmp_path).returncode == 0
    (tmp_path / "secret.key").write_text("b" * 64)
    result = spectra(["settings", "show"], tmp_path)
    assert_one_sentence(result, "does not match")


def test_the_secret_file_is_private(tmp_path: Path) -> None:
    assert spectra(["settings", "show"], tmp_path).returncode == 0
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600


def test_a_database_from_a_newer_version_is_one_sentence(tmp_path: Path) -> None:
    import sqlite3

    assert spectra(["migrate"], tmp_path).returncode == 0
    with sqlite3.connect(tmp_path / "spectra.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    result = spectra(["settings", "show"], tmp_path)
    assert_one_sentence(result, "newer version")


@pytest.mark.postgres_only
def test_a_wrong_postgres_database_name_is_one_sentence(tmp_path: Path) -> None:
    assert PG_URL is not None
    url = PG_URL.rsplit("/", 1)[0] + "/no_such_database_spectra"
    result = spectra(["migrate"], tmp_path, SPECTRA_DATABASE_URL=url)
    assert_one_sentence(result, "cannot be")
