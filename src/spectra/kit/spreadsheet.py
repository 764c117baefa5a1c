"""CSV that a spreadsheet opens safely: every writer of a CSV export goes through `writer()`,
which neutralises cells a spreadsheet would run as a formula (CSV injection, OWASP)."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any, Protocol

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")
_PLAIN_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


class _Writable(Protocol):
    def write(self, s: str, /) -> Any: ...


def safe_cell(value: Any) -> Any:
    """`value`, or a text that starts a formula prefixed with `'` (shown as text, never run).
    Plain signed numbers (`-3.50`) stay as they are: a spreadsheet reads them as numbers."""
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_PREFIXES)
        and not _PLAIN_NUMBER.match(value)
    ):
        return "'" + value
    return value


class SafeWriter:
    """`csv.writer` whose every cell passes through `safe_cell`."""

    def __init__(self, out: _Writable, *, lineterminator: str = "\r\n") -> None:
        self._writer = csv.writer(out, lineterminator=lineterminator)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([safe_cell(value) for value in row])


def writer(out: _Writable, *, lineterminator: str = "\r\n") -> SafeWriter:
    return SafeWriter(out, lineterminator=lineterminator)
