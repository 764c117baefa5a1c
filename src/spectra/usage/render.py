"""Statements as CSV / JSON-lines rows (streamed) and as a printable HTML page (Jinja2)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from spectra.db.session import AnySession
from spectra.kit.money import format_amount

from . import periods
from .statement_view import TOKEN_COLUMNS, Statement
from .statements import iter_entries

STATEMENT_COLUMNS = (
    "section",
    "date",
    "category",
    "label",
    "model",
    "memo",
    "count",
    "amount",
    "amount_micros",
    *TOKEN_COLUMNS,
)

_env = Environment(
    loader=PackageLoader("spectra.usage", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def period_label(statement: Statement) -> str:
    tz = periods.zone(statement.time_zone)
    start = statement.since.astimezone(tz)
    end = statement.until.astimezone(tz)

    def show(moment: datetime) -> str:
        midnight = moment.hour == 0 and moment.minute == 0 and moment.second == 0
        return moment.strftime("%Y-%m-%d") if midnight else moment.strftime("%Y-%m-%d %H:%M")

    return f"{show(start)} to {show(end)} (end exclusive)"


async def statement_rows(
    session: AnySession, statement: Statement, *, include_usage: bool = False
) -> AsyncIterator[dict[str, Any]]:
    """Opening balance, one row per line, closing balance, then each transaction (streamed)."""
    tz = periods.zone(statement.time_zone)
    yield {
        "section": "opening",
        "date": periods.local_date(statement.since, tz).isoformat(),
        "label": "Opening balance",
        "amount": format_amount(statement.opening_micros),
        "amount_micros": statement.opening_micros,
    }
    for line in statement.lines:
        yield {"section": "line", **line.as_json()}
    yield {
        "section": "closing",
        "date": periods.local_date(statement.until, tz).isoformat(),
        "label": "Closing balance",
        "amount": format_amount(statement.closing_micros),
        "amount_micros": statement.closing_micros,
    }
    async for entry in iter_entries(session, statement, include_usage=include_usage):
        yield {
            "section": "transaction",
            "date": entry["local_date"],
            "label": entry["kind"],
            "count": 1,
            **entry,
        }


async def statement_html(session: AnySession, statement: Statement) -> str:
    """The printable page (every non-usage transaction listed; usage summed per model)."""
    entries = [e async for e in iter_entries(session, statement)]
    tz = periods.zone(statement.time_zone)
    template = _env.get_template("statement.html")
    return template.render(
        s=statement,
        j=statement.as_json(),
        entries=entries,
        period=period_label(statement),
        subject_word="user" if statement.subject == "user" else "group",
        generated=statement.generated_at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z"),
    )
