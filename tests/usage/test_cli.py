"""`spectra prices ...` and `spectra usage list` in local mode (tests/support/cli.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.support.cli import Done, run_spectra

PG_URL = os.environ.get("SPECTRA_TEST_DATABASE_URL")


def spectra(args: list[str], data_dir: Path) -> Done:
    return run_spectra(args, {"SPECTRA_DATA_DIR": str(data_dir)})


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
        # After the line naming the workspace a local command acts on: one sentence.
        lines = result.stderr.strip().splitlines()
        assert [line.startswith("Workspace: ") for line in lines] == [True, False]


class TestUsageCli:
    def test_empty_list(self, data_dir: Path) -> None:
        result = spectra(["usage", "list", "--limit", "5", "--json"], data_dir)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {"items": [], "next_cursor": None}

    def test_unknown_user_is_one_sentence(self, data_dir: Path) -> None:
        result = spectra(["usage", "list", "--user", "nobody@example.com"], data_dir)
        assert result.returncode == 3
        assert "nobody@example.com" in result.stderr

    def test_report_on_an_empty_workspace(self, data_dir: Path) -> None:
        result = spectra(
            ["usage", "report", "--by", "model", "--from", "2026-11-01", "--json"], data_dir
        )
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        assert data["items"] == []
        assert data["buckets"] == "day"

    def test_report_by_an_unknown_dimension_is_one_sentence(self, data_dir: Path) -> None:
        result = spectra(["usage", "report", "--by", "planet"], data_dir)
        assert result.returncode == 2
        assert "Cannot report by 'planet'" in result.stderr

    def test_export_writes_a_csv_file(self, data_dir: Path, tmp_path: Path) -> None:
        out = tmp_path / "usage.csv"
        result = spectra(["usage", "export", "--format", "csv", "--out", str(out)], data_dir)
        assert result.returncode == 0, result.stderr
        assert out.read_text().startswith("id,created_at,")


class TestBillingCli:
    def test_statement_forecast_economics_reconcile(self, data_dir: Path, tmp_path: Path) -> None:
        assert spectra(["users", "create", "stm@example.com"], data_dir).returncode == 0
        recharge = ["ledger", "recharge", "--user", "stm@example.com", "--amount", "12.50"]
        assert spectra([*recharge, "--memo", "card"], data_dir).returncode == 0
        result = spectra(["usage", "statement", "--user", "stm@example.com", "--json"], data_dir)
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        assert data["closing_balance"] == "12.50"
        assert data["ledger_balance"] == "12.50"
        assert data["reconciles"] is True
        out = tmp_path / "s.csv"
        result = spectra(
            [
                "usage",
                "statement",
                "--user",
                "stm@example.com",
                "--format",
                "csv",
                "--out",
                str(out),
            ],
            data_dir,
        )
        assert result.returncode == 0, result.stderr
        text = out.read_text()
        assert text.startswith("section,date,category,label")
        assert "closing" in text
        page = tmp_path / "s.html"
        args = ["usage", "statement", "--user", "stm@example.com", "--format", "html"]
        result = spectra([*args, "--out", str(page)], data_dir)
        assert result.returncode == 0, result.stderr
        assert "<html" in page.read_text()
        table = spectra(["usage", "statement", "--user", "stm@example.com"], data_dir)
        assert "reconciles with the ledger" in table.stdout
        both = spectra(["usage", "statement"], data_dir)
        assert both.returncode == 2
        assert "exactly one" in both.stderr
        forecast = json.loads(spectra(["usage", "forecast", "--json"], data_dir).stdout)
        assert forecast["items"][0]["subject"] == "workspace"
        assert "Runway" in forecast["method"]
        economics = json.loads(spectra(["usage", "economics", "--json"], data_dir).stdout)
        assert "items" in economics
        reconcile = json.loads(spectra(["usage", "reconcile", "--json"], data_dir).stdout)
        assert len(reconcile["items"]) == 1
        report = spectra(["usage", "report", "--by", "user", "--format", "jsonl"], data_dir)
        assert report.returncode == 0, report.stderr
        bad = spectra(["usage", "forecast", "--format", "xml"], data_dir)
        assert bad.returncode == 2
