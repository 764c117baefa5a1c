"""`spectra usage list [--user EMAIL] [--limit N] [--cursor C]` and filters."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from spectra.cli import transport
from spectra.cli.commands.prices import parse_time
from spectra.cli.options import GroupOpt, JsonOpt, ModelOpt, SinceOpt, StatusOpt, UntilOpt, UserOpt
from spectra.cli.output import console, fail, print_json, show_list

app = typer.Typer(help="Usage records, reports and exports.", no_args_is_help=True)

LIST_COLUMNS = [
    "created_at",
    "user_email",
    "model_requested",
    "status",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "web_search_calls",
    "cost",
    "client_family",
]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="usage")


@app.command("list")
def list_(
    user: UserOpt = None,
    group: GroupOpt = None,
    model: ModelOpt = None,
    client: Annotated[
        str | None, typer.Option("--client", help="claude_code, codex_cli, ...")
    ] = None,
    status: StatusOpt = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Refusal reason code.")] = None,
    key: Annotated[str | None, typer.Option("--key", help="Key id.")] = None,
    account: Annotated[str | None, typer.Option("--account", help="Pool account id.")] = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most N records.")] = None,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="Continue after this cursor.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Usage records, newest first (never request or response bodies)."""
    start = parse_time(since, "--from") if since else None
    end = parse_time(until, "--to") if until else None
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
    data: dict[str, Any] = transport.api("GET", "/api/usage", params=params)
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


SpendGroupOpt = Annotated[
    str | None, typer.Option("--group", help="Only this group's spend (a lead: one they lead).")
]


def _range(since: str | None, until: str | None) -> tuple[Any, Any]:
    return (
        parse_time(since, "--from") if since else None,
        parse_time(until, "--to") if until else None,
    )


@app.command("report")
def report(
    by: Annotated[
        str, typer.Option("--by", help="user, group, model, account, key, client or project.")
    ],
    since: Annotated[str | None, typer.Option("--from", help="From this date (UTC).")] = None,
    until: Annotated[str | None, typer.Option("--to", help="Before this date (UTC).")] = None,
    top: Annotated[int | None, typer.Option("--top", help="Only the N largest rows.")] = None,
    group: SpendGroupOpt = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv or jsonl: a download (see --out).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the download here.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Spend, tokens, error and refusal rates grouped by one dimension (from the rollups); a
    team lead sees the groups they lead."""
    start, end = _range(since, until)
    params = {
        "by": by,
        "since": start.isoformat() if start else None,
        "until": end.isoformat() if end else None,
        "limit": top,
        "group": group,
    }
    if fmt is not None and fmt != "json":
        from spectra.cli.commands import usage_billing

        usage_billing.check_format(fmt)
        usage_billing.download(out, "/api/usage/report", {**params, "format": fmt})
        return
    data: dict[str, Any] = transport.api("GET", "/api/usage/report", params=params)
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
    group: SpendGroupOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """How many members use Claude Code, Codex CLI and the others (a lead: in their groups)."""
    start, end = _range(since, until)
    params = {
        "since": start.isoformat() if start else None,
        "until": end.isoformat() if end else None,
        "group": group,
    }
    data: dict[str, Any] = transport.api("GET", "/api/usage/adoption", params=params)
    show_list(
        data, as_json=as_json, columns=["client", "members", "share_of_members", "requests", "cost"]
    )


@app.command("rollup")
def rollup() -> None:
    """Count every pending record into the rollups now (the server does this every 10 s)."""
    counted = transport.api("POST", "/api/usage/rollup")["counted"]
    console.print(f"Rolled up {counted} records.")


@app.command("export")
def export(
    fmt: Annotated[str, typer.Option("--format", help="csv or jsonl.")] = "csv",
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file (default stdout).")
    ] = None,
    user: UserOpt = None,
    model: ModelOpt = None,
    client: Annotated[str | None, typer.Option("--client", help="Client family.")] = None,
    status: StatusOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
) -> None:
    """Export usage records, streamed page by page, with a progress bar when writing a file."""
    from spectra.cli.commands import usage_billing

    start, end = _range(since, until)
    params = {
        "format": fmt,
        "user": user,
        "model": model,
        "client": client,
        "status": status,
        "since": start.isoformat() if start else None,
        "until": end.isoformat() if end else None,
    }
    usage_billing.download(out, "/api/usage/export", params)
