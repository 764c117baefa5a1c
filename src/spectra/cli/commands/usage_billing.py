"""`spectra usage statement | forecast | economics | reconcile` (added to the `usage` noun).

Each prints a table (or `--json`), or with `--format csv|jsonl` (and `html` for statements)
streams a download to `--out FILE` (stdout by default) with a progress bar on stderr.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from spectra.audit.actor import local_actor
from spectra.cli import context
from spectra.cli.commands.usage import app
from spectra.cli.output import console, err_console, fail, fail_error, print_json, show_list
from spectra.db.session import ReadSession, read_scope
from spectra.runtime import Runtime
from spectra.usage import economics, exports, forecasts, render, statements
from spectra.usage.errors import InvalidUsageFilterError

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
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
    columns: list[Any] = [SpinnerColumn(), TextColumn("exporting"), BarColumn()]
    if total is not None:
        columns.append(MofNCompleteColumn())
    return Progress(*columns, console=err_console, disable=not show)


def _open(out: Path | None) -> TextIO:
    return out.open("w", encoding="utf-8", newline="") if out else sys.stdout


def _write_local(
    out: Path | None,
    produce: Callable[[ReadSession], Awaitable[tuple[AsyncIterator[str], int | None]]],
) -> None:
    """Run `produce` on a local read session and write its chunks with a progress bar."""
    target = _open(out)

    async def go(runtime: Runtime) -> None:
        async with read_scope(runtime.db) as session:
            chunks, total = await produce(session)
            with _progress(out is not None, total) as progress:
                task = progress.add_task("export", total=total)
                async for chunk in chunks:
                    target.write(chunk)
                    progress.advance(task, chunk.count("\n"))

    try:
        context.run_with_runtime(go)
    finally:
        if out:
            target.close()
    if out:
        err_console.print(f"Wrote {out}.")


def _write_remote(out: Path | None, path: str, params: Mapping[str, Any]) -> None:
    import httpx

    ctx = context.current()
    token = ctx.token or os.environ.get("SPECTRA_TOKEN")
    if not token:
        fail("--server needs an API token in SPECTRA_TOKEN.", 5)
    clean = {k: v for k, v in params.items() if v is not None}
    target = _open(out)
    try:
        with httpx.stream(
            "GET",
            f"{ctx.server}{path}",
            params=clean,
            headers={"authorization": f"Bearer {token}"},
            timeout=None,
        ) as response:
            if response.status_code >= 400:
                response.read()
                context.api("GET", path, params=clean)  # raises with the server's sentence
            with _progress(out is not None, None) as progress:
                task = progress.add_task("export", total=None)
                for text in response.iter_text():
                    target.write(text)
                    progress.advance(task, text.count("\n"))
    finally:
        if out:
            target.close()
    if out:
        err_console.print(f"Wrote {out}.")


def _fetch(
    path: str, params: dict[str, Any], local: Callable[[ReadSession], Awaitable[Any]]
) -> Any:
    """JSON from the API (remote) or from the services (local, as the local actor)."""
    if context.current().remote:
        return context.api("GET", path, params=params)

    async def go(runtime: Runtime) -> Any:
        async with read_scope(runtime.db) as session:
            return json.loads(json.dumps(await local(session), default=str))

    return context.run_with_runtime(go)


def rows_download(
    fmt: str,
    out: Path | None,
    path: str,
    params: dict[str, Any],
    local: Callable[[ReadSession], Awaitable[dict[str, Any]]],
    columns: tuple[str, ...],
) -> None:
    if context.current().remote:
        _write_remote(out, path, {**params, "format": fmt})
        return

    async def produce(session: ReadSession) -> tuple[AsyncIterator[str], int | None]:
        data = await local(session)
        items = json.loads(json.dumps(data["items"], default=str))
        return exports.stream_rows(items, fmt, columns), len(items)

    _write_local(out, produce)


def check_format(fmt: str | None, *, html: bool = False) -> None:
    if fmt is not None:
        try:
            exports.check_report_format(fmt, html=html)
        except InvalidUsageFilterError as exc:
            fail_error(exc)


@app.command("statement")
def statement(
    user: Annotated[str | None, typer.Option("--user", help="The user's email.")] = None,
    group: Annotated[str | None, typer.Option("--group", help="The group's name.")] = None,
    since: FromOpt = None,
    until: ToOpt = None,
    fmt: FormatOpt = None,
    out: OutOpt = None,
    include_usage: Annotated[
        bool, typer.Option("--include-usage", help="csv/jsonl: one row per usage transaction.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """A statement that reconciles exactly with the ledger (default: this month, workspace zone)."""
    check_format(fmt, html=True)
    if (user is None) == (group is None):
        fail("Name exactly one of --user EMAIL or --group NAME.", 2)
    params: dict[str, Any] = {"user": user, "group": group, "since": since, "until": until}

    async def build(session: ReadSession) -> statements.Statement:
        who_user, who_group = await statements.resolve_subject(
            session, user_email=user, group_name=group
        )
        start, end = await statements.resolve_period(session, since=since, until=until)
        return await statements.build_statement(
            session, local_actor(), user_id=who_user, group_id=who_group, since=start, until=end
        )

    if fmt is not None and fmt != "json":
        if context.current().remote:
            _write_remote(
                out, "/api/statements", {**params, "format": fmt, "include_usage": include_usage}
            )
            return

        async def produce(session: ReadSession) -> tuple[AsyncIterator[str], int | None]:
            st = await build(session)
            if fmt == "html":

                async def page() -> AsyncIterator[str]:
                    yield await render.statement_html(session, st)

                return page(), None
            rows = render.statement_rows(session, st, include_usage=include_usage)
            return exports.stream_rows(rows, fmt, render.STATEMENT_COLUMNS), None

        _write_local(out, produce)
        return

    async def local(session: ReadSession) -> dict[str, Any]:
        return (await build(session)).as_json()

    data = _fetch("/api/statements", params, local)
    if as_json or fmt == "json":
        print_json(data)
        return
    show_list(
        {"items": data["lines"]},
        as_json=False,
        columns=["label", "count", "amount"],
        title=f"Statement for {data['subject']} {data['subject_label']}"
        f" ({data['since_local'][:16]} to {data['until_local'][:16]}, {data['time_zone']})",
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
    fmt: FormatOpt = None,
    out: OutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Burn rate, projected month spend against budgets, and runway (the method is printed)."""
    check_format(fmt)
    params: dict[str, Any] = {"user": user, "group": group, "window_days": window, "limit": top}

    async def local(session: ReadSession) -> dict[str, Any]:
        user_id = group_id = None
        if user is not None or group is not None:
            user_id, group_id = await statements.resolve_subject(
                session, user_email=user, group_name=group
            )
        return await forecasts.forecast(
            session,
            local_actor(),
            user_id=user_id,
            group_id=group_id,
            window_days=window,
            limit=top,
        )

    if fmt is not None and fmt != "json":
        rows_download(fmt, out, "/api/usage/forecast", params, local, forecasts.FORECAST_COLUMNS)
        return
    data = _fetch("/api/usage/forecast", params, local)
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


def _range_params(since: str | None, until: str | None) -> dict[str, Any]:
    return {"since": since, "until": until}


@app.command("economics")
def economics_(
    since: FromOpt = None,
    until: ToOpt = None,
    fmt: FormatOpt = None,
    out: OutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Per pool account and model: served, charged, cost at list price; fixed-cost accounts."""
    check_format(fmt)
    params = _range_params(since, until)

    async def local(session: ReadSession) -> dict[str, Any]:
        start, end = await statements.resolve_period(session, since=since, until=until)
        return await economics.pool_economics(session, local_actor(), since=start, until=end)

    if fmt is not None and fmt != "json":
        rows_download(fmt, out, "/api/usage/economics", params, local, economics.ECONOMICS_COLUMNS)
        return
    data = _fetch("/api/usage/economics", params, local)
    if as_json or fmt == "json":
        print_json(data)
        return
    show_list(
        {"items": data["accounts"]},
        as_json=False,
        columns=list(economics.ACCOUNT_COLUMNS),
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
    check_format(fmt)
    params = _range_params(since, until)

    async def local(session: ReadSession) -> dict[str, Any]:
        start, end = await statements.resolve_period(
            session, since=since, until=until, to_current_month=True
        )
        return await economics.reconcile(session, local_actor(), since=start, until=end)

    if fmt is not None and fmt != "json":
        rows_download(fmt, out, "/api/usage/reconcile", params, local, economics.RECONCILE_COLUMNS)
        return
    data = _fetch("/api/usage/reconcile", params, local)
    if as_json or fmt == "json":
        print_json(data)
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
