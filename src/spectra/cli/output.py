"""The CLI's one error map and its printing: tables or `--json`, one sentence on stderr on failure."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NoReturn

import typer
from rich.console import Console, ConsoleDimensions
from rich.table import Table

from spectra.errors import ErrorKind, SpectraError

EXIT_BY_KIND: dict[ErrorKind, int] = {
    ErrorKind.INVALID: 2,
    ErrorKind.NOT_FOUND: 3,
    ErrorKind.CONFLICT: 4,
    ErrorKind.UNAUTHENTICATED: 5,
    ErrorKind.FORBIDDEN: 6,
    ErrorKind.REFUSED: 7,
    ErrorKind.RATE_LIMITED: 8,
    ErrorKind.UNAVAILABLE: 9,
    ErrorKind.UPSTREAM: 10,
}

PIPED_WIDTH = 4096
"""Width when the output is not a terminal: tables at their full width, never cut to rich's
default 80 columns (COLUMNS still decides when set)."""


class _Console(Console):
    """A console that decides its width when it prints, not when the module is imported: the
    stream behind it (a pipe, a test runner's capture) and COLUMNS may change between the two."""

    def __init__(self, *, stderr: bool = False) -> None:
        super().__init__(stderr=stderr)
        self._width = None  # rich pins COLUMNS here; `size` reads it at print time instead

    @property
    def size(self) -> ConsoleDimensions:
        dimensions = super().size
        if self._width is None:
            columns = os.environ.get("COLUMNS", "")
            if columns.isdigit():
                return ConsoleDimensions(int(columns), dimensions.height)
            if not self.file.isatty():
                return ConsoleDimensions(PIPED_WIDTH, dimensions.height)
        return dimensions

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


console = _Console()
err_console = _Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one sentence on stderr and exit non-zero."""
    err_console.print(message, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def fail_error(exc: SpectraError) -> NoReturn:
    fail(exc.message, EXIT_BY_KIND.get(exc.kind, 1))


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def plain(data: Any) -> Any:
    """A read model (`transport.read`) as the JSON the API wrote for it: the model's own
    serialisation, so money shows as its display string and times as the API writes them;
    anything else as it is."""
    if hasattr(data, "model_dump"):
        return data.model_dump(mode="json", by_alias=True)
    return data


def show_object(
    data: Any,
    *,
    as_json: bool,
    title: str | None = None,
    fields: Sequence[str] | None = None,
) -> None:
    """One answer (a read model or its JSON) as `--json` or as a two-column table of `fields`
    (default: every field but the `_micros` halves of money pairs)."""
    data = plain(data)
    if as_json:
        print_json(data)
        return
    table = Table(show_header=False, title=title, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for key in fields or [k for k in data if not k.endswith("_micros")]:
        table.add_row(key, _cell(data.get(key)))
    console.print(table)


def show_list(
    page: Any, *, as_json: bool, columns: Sequence[str], title: str | None = None
) -> None:
    """Print a `ListResource` (or its JSON, `{"items": [...], "next_cursor": ...}`) as JSON or
    as a table with `columns`."""
    page = plain(page)
    if as_json:
        print_json({"items": page.get("items", []), "next_cursor": page.get("next_cursor")})
        return
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for item in page.get("items", []):
        table.add_row(*(_cell(item.get(c)) for c in columns))
    console.print(table)
    if page.get("next_cursor"):
        console.print(f"more: --cursor {page['next_cursor']}", style="dim")


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    return str(value)


def items(rows: Iterable[Mapping[str, Any]], next_cursor: str | None = None) -> dict[str, Any]:
    return {"items": list(rows), "next_cursor": next_cursor}


def show_done(data: Any, *, as_json: bool, message: str) -> None:
    """A change's answer: the API's JSON with `--json`, else one line saying what was done."""
    if as_json:
        print_json(plain(data))
    else:
        console.print(message, markup=False)


def show_secret(data: Any, *, as_json: bool, fields: Sequence[str], heading: str) -> None:
    """A created credential (a read model or its JSON): with `--json` the whole answer
    ("secret" included), else its `fields`, then the secret, shown this once, under `heading`."""
    data = plain(data)
    if as_json:
        show_object(data, as_json=True)
        return
    show_object(data, as_json=False, fields=[f for f in fields if f in data])
    console.print(f"\n{heading}", style="bold")
    console.print(data["secret"], markup=False, highlight=False, soft_wrap=True)
