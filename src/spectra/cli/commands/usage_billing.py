"""`spectra usage statement | forecast | economics | reconcile` (added to the `usage` noun).

Each prints a table (or `--json`), or with `--format csv|jsonl` (and `html` for statements)
streams a download to `--out FILE` (stdout by default) with a progress bar on stderr.
"""

from __future__ import annotations

import codecs
import sys
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from spectra.cli import transport
from spectra.cli.commands.usage import app
from spectra.cli.options import GroupOpt, JsonOpt, UserOpt
from spectra.cli.output import console, err_console, fail, fail_error, print_json, show_list

if TYPE_CHECKING:
    from rich.progress import Progress

FromOpt = Annotated[
    str | None,
    typer.Option("--from", help="Start: a date (midnight in the workspace time zone) or a time."),
]
ToOpt = Annotated[
    str | None, typer.Option("--to", help="End (exclusive), a date or a time; default: month end.")
]
FormatOpt = Annotated[
    str | None, typer.Option("--format", help="csv or jsonl (statements also html): a download.")
]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Write the download to this file.")]


def register(root: typer.Typer) -> None:
    """The commands attach to the `usage` noun's Typer at import; nothing else to add."""


def _progress(show: bool, total: int | None) -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

    columns: list[Any] = [SpinnerColumn(), TextColumn("exporting"), BarColumn()]
    if total is not None:
        columns.append(MofNCompleteColumn())
    return Progress(*columns, console=err_console, disable=not show)


def download(out: Path | None, path: str, params: Mapping[str, Any]) -> None:
    """Stream a download answer of the API into `--out` (stdout by default), with a progress bar
    on stderr when writing a file."""
    target: list[TextIO] = []
    with ExitStack() as stack:
        progress = stack.enter_context(_progress(out is not None, None))
        task = progress.add_task("export", total=None)
        decoder = codecs.getincrementaldecoder("utf-8")()

        def start(headers: Any) -> None:
            opened = out.open("w", encoding="utf-8", newline="") if out else sys.stdout
            if out:
                stack.callback(opened.close)
            target.append(opened)

        def write(chunk: bytes) -> None:
            text = decoder.decode(chunk)
            target[0].write(text)
            progress.advance(task, text.count("\n"))

        transport.stream("GET", path, write, on_start=start, params=dict(params))
    if out:
        err_console.print(f"Wrote {out}.")


def check_format(fmt: str | None, *, html: bool = False) -> None:
    from spectra.usage import exports
    from spectra.usage.errors import InvalidUsageFilterError

    if fmt is not None:
        try:
            exports.check_report_format(fmt, html=html)
        except InvalidUsageFilterError as exc:
            fail_error(exc)


def _economics() -> Any:
    from spectra.usage import economics

    return economics


@app.command("statement")
def statement(
    user: UserOpt = None,
    group: GroupOpt = None,
    since: FromOpt = None,
    until: ToOpt = None,
    fmt: FormatOpt = None,
    out: OutOpt = None,
    include_usage: Annotated[
        bool, typer.Option("--include-usage", help="csv/jsonl: one row per usage transaction.")
    ] = False,
    by: Annotated[
        str | None, typer.Option("--by", help="project: also the usage and refunds per project.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """A statement that reconciles exactly with the ledger (default: this month, workspace zone)."""
    check_format(fmt, html=True)
    if (user is None) == (group is None):
        fail("Name exactly one of --user EMAIL or --group NAME.", 2)
    params: dict[str, Any] = {
        "user": user,
        "group": group,
        "since": since,
        "until": until,
        "by": by,
    }

    if fmt is not None and fmt != "json":
        download(out, "/api/statements", {**params, "format": fmt, "include_usage": include_usage})
        return
    data = transport.api("GET", "/api/statements", params=params)
    if as_json or fmt == "json":
        print_json(data)
        return
    show_list(
        {"items": data["lines"]},
        as_json=False,
        columns=[
            "label",
            "count",
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_5m_tokens",
            "cache_write_1h_tokens",
            "amount",
        ],
        title=f"Statement for {data['subject']} {data['subject_label']}"
        f" ({data['since_local'][:16]} to {data['until_local'][:16]}, {data['time_zone']})",
    )
    if data.get("by_project") is not None:
        show_list(
            {"items": data["by_project"]},
            as_json=False,
            columns=["label", "requests", "usage", "refunds", "net"],
            title="Usage by project",
        )
        console.print(
            "projects sum to the usage and refunds lines"
            if data["by_project_reconciles"]
            else "projects DO NOT sum to the usage and refunds lines",
            style="green" if data["by_project_reconciles"] else "bold red",
        )
    console.print(f"opening balance  {data['opening_balance']}")
    console.print(f"closing balance  {data['closing_balance']}")
    if data["ledger_balance"] is not None:
        console.print(f"ledger balance   {data['ledger_balance']}")
    console.print(
        "reconciles with the ledger" if data["reconciles"] else "DOES NOT reconcile",
        style="green" if data["reconciles"] else "bold red",
    )


@app.command("forecast")
def forecast(
    user: Annotated[str | None, typer.Option("--user", help="One user (email).")] = None,
    group: Annotated[str | None, typer.Option("--group", help="One group and its members.")] = None,
    window: Annotated[int, typer.Option("--window", help="Days of history the rate uses.")] = 7,
    top: Annotated[int, typer.Option("--top", help="Workspace view: the N top spenders.")] = 50,
    by: Annotated[
        str | None,
        typer.Option("--by", help="project: the workspace and each project (they sum to it)."),
    ] = None,
    fmt: FormatOpt = None,
    out: OutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Burn rate, projected month spend against budgets, and runway (the method is printed)."""
    check_format(fmt)
    params: dict[str, Any] = {
        "user": user,
        "group": group,
        "window_days": window,
        "limit": top,
        "by": by,
    }

    if fmt is not None and fmt != "json":
        download(out, "/api/usage/forecast", {**params, "format": fmt})
        return
    data = transport.api("GET", "/api/usage/forecast", params=params)
    if as_json or fmt == "json":
        print_json(data)
        return
    show_list(
        data,
        as_json=False,
        columns=[
            "subject",
            "label",
            "burn_rate_per_day",
            "month_to_date",
            "projected_month_spend",
            "budget",
            "balance",
            "runs_out_on",
        ],
        title=f"Forecast (last {data['window_days']} days, {data['time_zone']})",
    )
    for item in data["items"]:
        console.print(item["summary"])
    console.print(data["method"], style="dim")


def _range_report(
    path: str,
    since: str | None,
    until: str | None,
    fmt: str | None,
    out: Path | None,
    as_json: bool,
) -> dict[str, Any] | None:
    """A report over a date range: a download (`--format`), JSON printed, or the data for a table
    (None when nothing is left to print)."""
    check_format(fmt)
    params = {"since": since, "until": until}
    if fmt is not None and fmt != "json":
        download(out, path, {**params, "format": fmt})
        return None
    data: dict[str, Any] = transport.api("GET", path, params=params)
    if as_json or fmt == "json":
        print_json(data)
        return None
    return data


@app.command("economics")
def economics_(
    since: FromOpt = None,
    until: ToOpt = None,
    fmt: FormatOpt = None,
    out: OutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Per pool account and model: served, charged, cost at list price; fixed-cost accounts."""
    data = _range_report("/api/usage/economics", since, until, fmt, out, as_json)
    if data is None:
        return
    show_list(
        {"items": data["accounts"]},
        as_json=False,
        columns=list(_economics().ACCOUNT_COLUMNS),
        title=f"Pool accounts ({data['since'][:10]} to {data['until'][:10]}, {data['time_zone']})",
    )
    show_list(
        data,
        as_json=False,
        columns=["account", "model", "requests", "charged", "list_price_cost", "list_price_known"],
        title="By account and model",
    )
    console.print(data["method"], style="dim")


@app.command("reconcile")
def reconcile_(
    since: FromOpt = None,
    until: ToOpt = None,
    fmt: FormatOpt = None,
    out: OutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Per month: members charged vs pool cost at list price vs fixed account costs."""
    data = _range_report("/api/usage/reconcile", since, until, fmt, out, as_json)
    if data is None:
        return
    show_list(
        data,
        as_json=False,
        columns=[
            "month",
            "charged_to_members",
            "requests_priced",
            "unbilled",
            "pool_cost_at_list_price",
            "fixed_account_costs",
            "margin",
        ],
        title=f"Reconciliation ({data['time_zone']})",
    )
    console.print(data["method"], style="dim")
