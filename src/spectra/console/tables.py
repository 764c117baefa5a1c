"""One table component for the console's list pages: sort, filter, page, choose columns, CSV.

A page describes its columns once (`Column`: a label and how to read a row's value) in a
`TableSpec`; the table reads its state from the URL query (`sort`=key or -key, `q`=filter text,
`page`, `per`; prefixed when a page has several tables), so a link shares exactly the view.

Lists that can grow past one page are sorted, filtered and paged by their service in SQL:
`spec.query(request)` turns the URL into a typed `ListQuery` (a sort key that is not one of the
table's sortable columns falls back to the service's default order), the service answers one
page with the total (`db.listing.page_sorted`), and `spec.show(request, page)` draws it. Small
lists that a service returns whole go through `spec.build(request, rows)`, which sorts and
filters them in memory. Either way `?export=<table id>` answers the whole filtered, sorted set
as CSV (not only the page shown), at most `EXPORT_CAP` rows with a closing line when cut, in the
columns shown (`cols`, kept by static/tables.js from the column choice remembered in
localStorage), money in full precision. The template partial `_table.html` draws the chrome and
calls back the page for each row's cells, so rows keep their ids, data attributes and buttons.
Scoping comes from the service: a table never sees a row the viewer may not read, so neither
does its CSV.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from starlette.responses import Response, StreamingResponse

from spectra.console.i18n import N_
from spectra.kit.listing import EXPORT_CAP, ListQuery
from spectra.kit.money import format_amount
from spectra.kit.pagination import Page

PER_PAGE = (25, 50, 100, 200)


def read(path: str) -> Callable[[Any], Any]:
    """A reader for a dotted path through attributes or dict keys: `read("package.name")`."""
    parts = path.split(".")

    def value(row: Any) -> Any:
        for part in parts:
            if row is None:
                return None
            row = row.get(part) if isinstance(row, dict) else getattr(row, part, None)
        return row

    return value


@dataclass(frozen=True)
class Column:
    """`value` reads the row's sort/filter/CSV value (a function, or a dotted path, default the
    key); `kind` is text, money (micros), num, when, or action (buttons: neither sorted, filtered
    nor exported)."""

    key: str
    label: str
    value: Callable[[Any], Any] | str | None = None
    kind: str = "text"
    sortable: bool = True

    def __post_init__(self) -> None:
        if self.kind == "action":
            object.__setattr__(self, "sortable", False)
        if not callable(self.value):
            object.__setattr__(self, "value", read(self.value or self.key))

    def get(self, row: Any) -> Any:
        assert callable(self.value)
        return self.value(row)

    @property
    def css(self) -> str:
        return "num" if self.kind in ("money", "num") else ""

    def cell(self, row: Any) -> str:
        """The CSV text: money in full precision, times as ISO 8601 in UTC."""
        value = self.get(row)
        if value is None:
            return ""
        if self.kind == "money":
            return format_amount(int(value))
        if isinstance(value, datetime):
            return value.isoformat()
        return str(value)


@dataclass(frozen=True)
class TableSpec:
    """A page's table, described once at module level: its id, columns and empty state (what
    to do, e.g. "No usage yet: create a key."); `prefix` when a page shows several tables."""

    id: str
    columns: Sequence[Column]
    empty: str = N_("Nothing here yet.")
    prefix: str = ""
    filterable: bool = True
    """False where the page's own form filters on the server (users): no second filter box."""
    empty_link: tuple[str, str] | None = None
    """(href, text) of what to do when the table is empty: ("/console/keys", "Create a key")."""
    hidden: Sequence[str] = ()
    """Columns hidden until the viewer shows them (the CSV without `cols` still holds them)."""
    css: str = ""
    """Classes of the table element: "condensed" for wide tables that must fit at 1440 px."""

    def query(self, request: Request) -> ListQuery:
        """The URL's view of this table as the service's `ListQuery`: the sort only when it
        names a sortable column (anything else: the service's default order), the page as an
        offset, and the whole set (to `EXPORT_CAP`) when the URL asks for this table's CSV."""
        params = request.query_params
        sort = params.get(f"{self.prefix}sort") or ""
        descending = sort.startswith("-")
        key = sort.lstrip("-")
        if key not in {c.key for c in self.columns if c.sortable}:
            key, descending = "", False
        q = (params.get(f"{self.prefix}q") or "").strip() if self.filterable else ""
        if params.get("export") == self.id:
            return ListQuery.everything(key, descending, q, cap=EXPORT_CAP)
        per = _per(params.get(f"{self.prefix}per"))
        page = max(1, _int(params.get(f"{self.prefix}page"), 1))
        return ListQuery(sort=key, descending=descending, q=q, offset=(page - 1) * per, limit=per)

    def show(self, request: Request, page: Page[Any], rows: Sequence[Any] | None = None) -> Table:
        """The view of one page a service sorted, filtered and paged by `self.query(request)`;
        `rows` when the page turns the service's items into display rows (same order)."""
        query = self.query(request)
        items = list(page.items if rows is None else rows)
        exporting = request.query_params.get("export") == self.id
        per = _per(request.query_params.get(f"{self.prefix}per"))
        total = page.total if page.total is not None else len(items)
        return Table(
            id=self.id,
            columns=self.columns,
            rows=items[:per] if exporting else items,
            total=total,
            request=request,
            prefix=self.prefix,
            sort=query.sort,
            desc=query.descending,
            q=query.q,
            page=1 if exporting else page.offset // per + 1,
            per=per,
            empty=self.empty,
            empty_link=self.empty_link,
            filtered_from=total,
            hidden=tuple(self.hidden),
            css=self.css,
            filterable=self.filterable,
            everything=items,
        )

    def build(self, request: Request, rows: Sequence[Any], next_cursor: str | None = None) -> Table:
        """The view of `rows` (what the service returned) by the URL's sort, filter and page."""
        return Table.build(
            request,
            self.id,
            self.columns,
            rows,
            prefix=self.prefix,
            empty=self.empty,
            empty_link=self.empty_link,
            next_cursor=next_cursor,
            filterable=self.filterable,
            hidden=self.hidden,
            css=self.css,
        )


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (2, "")
    if isinstance(value, bool | int | float | Decimal):
        return (0, value)
    if isinstance(value, datetime):
        return (0, value.timestamp())
    return (1, str(value).casefold())


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text else default
    except ValueError:
        return default


def _per(text: str | None, default: int = 50) -> int:
    per = _int(text, default)
    return per if per in PER_PAGE else default


@dataclass
class Table:
    """The view of one table: the rows of this page after filter and sort, and how to link."""

    id: str
    columns: Sequence[Column]
    rows: list[Any]
    total: int
    request: Request
    prefix: str = ""
    sort: str = ""
    desc: bool = False
    q: str = ""
    page: int = 1
    per: int = 50
    empty: str = N_("Nothing here yet.")
    empty_link: tuple[str, str] | None = None
    next_cursor: str | None = None
    filtered_from: int = 0
    hidden: Sequence[str] = field(default_factory=tuple)
    totals: Any = None
    filterable: bool = True
    css: str = ""
    everything: list[Any] = field(default_factory=list)
    """Every row of the filtered, sorted set the CSV holds (to `EXPORT_CAP` and one more)."""

    @classmethod
    def build(
        cls,
        request: Request,
        table_id: str,
        columns: Sequence[Column],
        rows: Sequence[Any],
        *,
        prefix: str = "",
        empty: str = "Nothing here yet.",
        empty_link: tuple[str, str] | None = None,
        next_cursor: str | None = None,
        default_sort: str = "",
        per: int = 50,
        hidden: Sequence[str] = (),
        filterable: bool = True,
        css: str = "",
    ) -> Table:
        params = request.query_params
        by_key = {c.key: c for c in columns}
        sort = params.get(f"{prefix}sort") or default_sort
        desc = sort.startswith("-")
        key = sort.lstrip("-")
        q = (params.get(f"{prefix}q") or "").strip() if filterable else ""
        chosen = list(rows)
        if q:
            needle = q.casefold()
            data = [c for c in columns if c.kind != "action"]
            chosen = [r for r in chosen if any(needle in c.cell(r).casefold() for c in data)]
        column = by_key.get(key)
        if column is not None and column.sortable:
            chosen.sort(key=lambda r: _sort_key(column.get(r)), reverse=desc)
        else:
            key, desc = "", False
        per = _per(params.get(f"{prefix}per"), per)
        pages = max(1, -(-len(chosen) // per))
        page = min(max(1, _int(params.get(f"{prefix}page"), 1)), pages)
        return cls(
            id=table_id,
            columns=columns,
            rows=chosen[(page - 1) * per : page * per],
            total=len(chosen),
            request=request,
            prefix=prefix,
            sort=key,
            desc=desc,
            q=q,
            page=page,
            per=per,
            empty=empty,
            empty_link=empty_link,
            next_cursor=next_cursor,
            filtered_from=len(rows),
            hidden=tuple(hidden),
            filterable=filterable,
            everything=chosen,
            css=css,
        )

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per))

    @property
    def first_row(self) -> int:
        return 0 if self.total == 0 else (self.page - 1) * self.per + 1

    @property
    def last_row(self) -> int:
        return min(self.total, self.page * self.per)

    def href(self, **changes: Any) -> str:
        """The current URL's query with this table's parameters changed (None removes one)."""
        params = dict(self.request.query_params)
        params.pop("export", None)
        params.pop("cols", None)
        for name, value in changes.items():
            key = name if name in ("export", "cols", "cursor") else f"{self.prefix}{name}"
            if value is None or value == "" or (name == "page" and value == 1):
                params.pop(key, None)
            else:
                params[key] = str(value)
        return "?" + urlencode(params) if params else "?"

    def sort_href(self, column: Column) -> str:
        """Ascending first; a second click on the sorted column turns it descending."""
        ascending = not (self.sort == column.key and not self.desc)
        return self.href(sort=column.key if ascending else f"-{column.key}", page=None)

    def aria_sort(self, column: Column) -> str:
        if self.sort != column.key:
            return "none"
        return "descending" if self.desc else "ascending"

    def keep(self) -> list[tuple[str, str]]:
        """Other query parameters the filter form carries along (not this table's q and page)."""
        own = {f"{self.prefix}q", f"{self.prefix}page", "export", "cols", "cursor"}
        return [(k, v) for k, v in self.request.query_params.items() if k not in own]

    def csv_href(self) -> str:
        return self.href(export=self.id)

    @property
    def export_cap(self) -> int:
        return EXPORT_CAP

    @property
    def capped(self) -> bool:
        """Whether the CSV would hold only the first `EXPORT_CAP` rows of the set."""
        return max(self.total, len(self.everything)) > EXPORT_CAP

    def csv(self) -> Response | None:
        """The CSV answer when the URL asks for this table's export, else None: every row of
        the filtered, sorted set (not only this page), cut at `EXPORT_CAP` with a closing line
        that says so."""
        if self.request.query_params.get("export") != self.id:
            return None
        wanted = [k for k in (self.request.query_params.get("cols") or "").split(",") if k]
        columns = [
            c for c in self.columns if c.kind != "action" and (not wanted or c.key in wanted)
        ]
        rows = self.everything[:EXPORT_CAP]
        capped = self.capped
        total = max(self.total, len(self.everything))

        def lines() -> Iterator[str]:
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow([c.label for c in columns])
            for start in range(0, len(rows), 500):
                for row in rows[start : start + 500]:
                    writer.writerow([c.cell(row) for c in columns])
                yield out.getvalue()
                out.seek(0)
                out.truncate()
            if capped:
                writer.writerow(
                    [
                        f"Only the first {EXPORT_CAP} of {total} rows: "
                        "filter the table to export the rest."
                    ]
                )
            yield out.getvalue()

        headers = {
            "content-disposition": f'attachment; filename="spectra-{self.id}.csv"',
            "cache-control": "no-store",
        }
        if capped:
            headers["x-spectra-export-capped"] = f"{EXPORT_CAP} of {total}"
        return StreamingResponse(lines(), media_type="text/csv; charset=utf-8", headers=headers)
