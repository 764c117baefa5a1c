"""`spectra prices ...` and `spectra usage list` in local mode, as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PG_URL = os.environ.get("SPECTRA_TEST_DATABASE_URL")


def spectra(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRA_")}
    env["SPECTRA_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "spectra", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli-usage")
    result = spectra(["migrate"], path)
    assert result.returncode == 0, result.stderr
    return path


class TestPricesCli:
    def test_set_then_list(self, data_dir: Path) -> None:
        result = spectra(
            [
                "prices",
                "set",
                "my-llama",
                "--input",
                "0.5",
                "--output",
                "1.5",
                "--cache-read",
                "0.05",
                "--json",
            ],
            data_dir,
        )
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        assert data["input"] == "0.50"
        assert data["cache_read"] == "0.05"
        assert data["cache_write"] == "0.50"
        listed = json.loads(spectra(["prices", "list", "--json"], data_dir).stdout)
        assert "my-llama" in [p["model"] for p in listed["items"]]
        assert listed["next_cursor"] is None

    def test_scheduled_price(self, data_dir: Path) -> None:
        result = spectra(
            [
                "prices",
                "set",
                "gpt-4o",
                "--input",
                "2",
                "--output",
                "8",
                "--from",
                "2099-01-01",
                "--json",
            ],
            data_dir,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["is_current"] is False

    def test_bad_price_is_one_sentence(self, data_dir: Path) -> None:
        result = spectra(["prices", "set", "m", "--input", "abc", "--output", "1"], data_dir)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        assert result.stderr.strip().count("\n") == 0


class TestUsageCli:
    def test_empty_list(self, data_dir: Path) -> None:
        result = spectra(["usage", "list", "--limit", "5", "--json"], data_dir)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {"items": [], "next_cursor": None}

    def test_unknown_user_is_one_sentence(self, data_dir: Path) -> None:
        result = spectra(["usage", "list", "--user", "nobody@example.com"], data_dir)
        assert result.returncode == 3
        assert "nobody@example.com" in result.stderr
