"""`spectra usage list [--user EMAIL] [--limit N] [--cursor C]` and filters."""

from __future__ import annotations

import json
import os
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from spectra.audit.actor import Actor, local_actor
from spectra.cli import context
from spectra.cli.commands.prices import parse_time
from spectra.cli.output import console, err_console, fail, print_json, show_list
from spectra.db.session import Session, read_scope
from spectra.runtime import Runtime
from spectra.usage import exports, reports
from spectra.usage import jobs as usage_jobs
from spectra.usage import service as usage_service
from spectra.usage.errors import UsageUserNotFoundError
from spectra.usage.schemas import UsageRecordRead

app = typer.Typer(help="Usage records, reports and exports.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
LIST_COLUMNS = [
    "created_at",
    "user_email",
    "model_requested",
    "status",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost",
    "client_family",
]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="usage")


@app.command("list")
def list_(
    user: Annotated[str | None, typer.Option("--user", help="The user's email.")] = None,
    group: Annotated[str | None, typer.Option("--group", help="The group's name.")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Model as requested.")] = None,
    client: Annotated[
        str | None, typer.Option("--client", help="claude_code, codex_cli, ...")
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="ok, refused, error, partial.")
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Refusal reason code.")] = None,
    key: Annotated[str | None, typer.Option("--key", help="Key id.")] = None,
    account: Annotated[str | None, typer.Option("--account", help="Pool account id.")] = None,
    since: Annotated[
        str | None, typer.Option("--from", help="From this date or time (UTC).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--to", help="Before this date or time (UTC).")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most N records.")] = None,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="Continue after this cursor.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Usage records, newest first (never request or response bodies)."""
    start = parse_time(since, "--from") if since else None
    end = parse_time(until, "--to") if until else None
    if context.current().remote:
        params: dict[str, Any] = {
            "user": user,
            "group": group,
            "model": model,
            "client": client,
            "status": status,
            "refusal_reason": reason,
            "key_id": key,
            "account_id": account,
            "since": start.isoformat() if start else None,
            "until": end.isoformat() if end else None,
            "limit": limit,
            "cursor": cursor,
        }
        data: dict[str, Any] = context.api("GET", "/api/usage", params=params)
    else:

        async def go(session: Session, actor: Actor) -> dict[str, Any]:
            page = await usage_service.list_usage(
                session,
                actor,
                user_email=user,
                group_name=group,
                model=model,
                client=client,
                status=status,
                refusal_reason=reason,
                key_id=_uuid(key, "--key"),
                account_id=_uuid(account, "--account"),
                since=start,
                until=end,
                limit=limit,
                cursor=cursor,
            )
            emails = page.extra.get("emails", {})
            items = [
                UsageRecordRead.of(r, user_email=emails.get(r.user_id)).model_dump(mode="json")
                for r in page.items
            ]
            return {"items": items, "next_cursor": page.next_cursor}

        data = context.run_local(go)
    show_list(data, as_json=as_json, columns=LIST_COLUMNS)


def _uuid(text: str | None, option: str) -> Any:
    if text is None:
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        fail(f"{option} '{text}' is not an id.", 2)


REPORT_COLUMNS = [
    "label",
    "requests",
    "cost",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "error_rate",
    "refusal_rate",
]


def _range(since: str | None, until: str | None) -> tuple[Any, Any]:
    return (
        parse_time(since, "--from") if since else None,
        parse_time(until, "--to") if until else None,
    )


@app.command("report")
def report(
    by: Annotated[str, typer.Option("--by", help="user, group, model, account, key or client.")],
    since: Annotated[str | None, typer.Option("--from", help="From this date (UTC).")] = None,
    until: Annotated[str | None, typer.Option("--to", help="Before this date (UTC).")] = None,
    top: Annotated[int | None, typer.Option("--top", help="Only the N largest rows.")] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv or jsonl: a download (see --out).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the download here.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Spend, tokens, error and refusal rates grouped by one dimension (from the rollups)."""
    start, end = _range(since, until)
    params = {
        "by": by,
        "since": start.isoformat() if start else None,
        "until": end.isoformat() if end else None,
        "limit": top,
    }
    if fmt is not None and fmt != "json":
        from spectra.cli.commands import usage_billing

        usage_billing.check_format(fmt)

        async def rows(session: Any) -> dict[str, Any]:
            result = await reports.usage_report(
                session, local_actor(), by=by, since=start, until=end, limit=top
            )
            return result.as_json()

        usage_billing.rows_download(
            fmt, out, "/api/usage/report", params, rows, exports.REPORT_COLUMNS
        )
        return
    if context.current().remote:
        data: dict[str, Any] = context.api("GET", "/api/usage/report", params=params)
    else:

        async def go(session: Session, actor: Actor) -> dict[str, Any]:
            result = await reports.usage_report(
                session, actor, by=by, since=start, until=end, limit=top
            )
            shaped: dict[str, Any] = json.loads(json.dumps(result.as_json(), default=str))
            return shaped

        data = context.run_local(go)
    if as_json:
        print_json(data)
        return
    show_list(data, as_json=False, columns=REPORT_COLUMNS, title=f"Usage by {by}")
    totals = data["totals"]
    console.print(
        f"total: {totals['requests']} requests, {totals['cost']} ({data['buckets']} rollups"
        f" as of {data['as_of'] or 'never'})",
        style="dim",
    )


@app.command("adoption")
def adoption_(
    since: Annotated[str | None, typer.Option("--from", help="From this date (UTC).")] = None,
    until: Annotated[str | None, typer.Option("--to", help="Before this date (UTC).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """How many members use Claude Code, Codex CLI and the others."""
    start, end = _range(since, until)
    if context.current().remote:
        params = {
            "since": start.isoformat() if start else None,
            "until": end.isoformat() if end else None,
        }
        data: dict[str, Any] = context.api("GET", "/api/usage/adoption", params=params)
    else:

        async def go(session: Session, actor: Actor) -> dict[str, Any]:
            items = await reports.adoption(session, actor, since=start, until=end)
            return {"items": items, "next_cursor": None}

        data = context.run_local(go)
    show_list(
        data, as_json=as_json, columns=["client", "members", "share_of_members", "requests", "cost"]
    )


@app.command("rollup")
def rollup() -> None:
    """Count every pending record into the rollups now (the server does this every 10 s)."""

    async def go(runtime: Runtime) -> int:
        return await usage_jobs.run_rollups(runtime.db, lag=timedelta(0))

    counted = context.run_with_runtime(go)
    console.print(f"Rolled up {counted} records.")


@app.command("export")
def export(
    fmt: Annotated[str, typer.Option("--format", help="csv or jsonl.")] = "csv",
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file (default stdout).")
    ] = None,
    user: Annotated[str | None, typer.Option("--user", help="The user's email.")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Model as requested.")] = None,
    client: Annotated[str | None, typer.Option("--client", help="Client family.")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="ok, refused, error, partial.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--from", help="From this date or time (UTC).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--to", help="Before this date or time (UTC).")
    ] = None,
) -> None:
    """Export usage records, streamed page by page, with a progress bar when writing a file."""
    start, end = _range(since, until)
    target = out.open("w", encoding="utf-8", newline="") if out else sys.stdout
    try:
        if context.current().remote:
            _export_remote(
                target, fmt, user, model, client, status, start, end, show=out is not None
            )
        else:
            _export_local(
                target, fmt, user, model, client, status, start, end, show=out is not None
            )
    finally:
        if out:
            target.close()
    if out:
        err_console.print(f"Wrote {out}.")


def _progress(show: bool) -> Progress:
    return Progress(
        TextColumn("exporting"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=not show,
    )


def _export_local(
    target: TextIO,
    fmt: str,
    user: str | None,
    model: str | None,
    client: str | None,
    status: str | None,
    start: Any,
    end: Any,
    *,
    show: bool,
) -> None:
    async def go(runtime: Runtime) -> None:
        async with read_scope(runtime.db) as session:
            user_id = None
            if user is not None:
                user_id = await usage_service.find_user_id(session, user)
                if user_id is None:
                    raise UsageUserNotFoundError(f"There is no user {user}.", email=user)
            filters = exports.authorize_export(
                local_actor(),
                fmt=fmt,
                user_id=user_id,
                model=model,
                client=client,
                status=status,
                since=start,
                until=end,
            )
            total = await exports.count_records(session, filters)
            with _progress(show) as progress:
                task = progress.add_task("export", total=total)
                header = fmt == "csv"
                async for chunk in exports.stream_records(session, filters, fmt=fmt):
                    target.write(chunk)
                    if header:
                        header = False  # the first CSV chunk is the header line alone
                        continue
                    progress.advance(task, chunk.count("\n"))

    context.run_with_runtime(go)


def _export_remote(
    target: TextIO,
    fmt: str,
    user: str | None,
    model: str | None,
    client: str | None,
    status: str | None,
    start: Any,
    end: Any,
    *,
    show: bool,
) -> None:
    import httpx

    ctx = context.current()
    token = ctx.token or os.environ.get("SPECTRA_TOKEN")
    if not token:
        fail("--server needs an API token in SPECTRA_TOKEN.", 5)
    params = {
        k: v
        for k, v in {
            "format": fmt,
            "user": user,
            "model": model,
            "client": client,
            "status": status,
            "since": start.isoformat() if start else None,
            "until": end.isoformat() if end else None,
        }.items()
        if v is not None
    }
    with httpx.stream(
        "GET",
        f"{ctx.server}/api/usage/export",
        params=params,
        headers={"authorization": f"Bearer {token}"},
        timeout=None,
    ) as response:
        if response.status_code >= 400:
            response.read()
            context.api(
                "GET", "/api/usage/export", params=params
            )  # raises with the server's sentence
        with _progress(show) as progress:
            task = progress.add_task("export", total=None)
            for text in response.iter_text():
                target.write(text)
                progress.advance(task, text.count("\n"))
