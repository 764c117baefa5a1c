"""The one CSV writer of every export: formula-looking text is shown as text."""

from __future__ import annotations

import csv
import io

import pytest

from spectra.kit import spreadsheet


@pytest.mark.parametrize("text", ["=1+1", "+1+1", "-1+1", "@A1", "\tx", "\rx", "\nx"])
def test_a_formula_prefix_is_quoted(text: str) -> None:
    assert spreadsheet.safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["-3.50", "+2", "12", "plain", "a=b", 7, -7, None])
def test_numbers_and_plain_text_pass(value: object) -> None:
    assert spreadsheet.safe_cell(value) == value


def test_the_writer_quotes_every_cell_of_a_row() -> None:
    out = io.StringIO()
    spreadsheet.writer(out).writerow(["=a", "b", "@c"])
    assert next(csv.reader(io.StringIO(out.getvalue()))) == ["'=a", "b", "'@c"]
