"""`spectra audit ...`: list the log with filters, verify its hash chain, export it."""

from __future__ import annotations

import os
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from spectra.audit.actor import Actor
from spectra.audit.schemas import AuditEventRead, ChainReportRead
from spectra.audit.service import AuditFilter
from spectra.cli import context
from spectra.cli.output import console, err_console, fail, items, print_json, show_list
from spectra.db.session import Session, read_scope
from spectra.runtime import Runtime
from spectra.users import service as users_service

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ActorOpt = Annotated[
    str | None, typer.Option("--actor", help="Actor label (email, local:NAME, system) or user id.")
]
ActionOpt = Annotated[
    str | None, typer.Option("--action", help="An action (users.create) or a prefix (ledger.*).")
]
TargetTypeOpt = Annotated[str | None, typer.Option("--target-type", help="e.g. user, group, key.")]
TargetIdOpt = Annotated[str | None, typer.Option("--target-id", help="The target's id.")]
FromOpt = Annotated[
    str | None, typer.Option("--from", help="From this date or time (YYYY-MM-DD is UTC midnight).")
]
ToOpt = Annotated[str | None, typer.Option("--to", help="Before this date or time (exclusive).")]
LIST_COLUMNS = ("id", "occurred_at", "actor_label", "action", "target_type", "target_label")


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


def parse_time(raw: str | None, option: str) -> datetime | None:
    if raw is None:
        return None
    try:
        if len(raw) == 10:
            return datetime.combine(datetime.fromisoformat(raw).date(), time(0), tzinfo=UTC)
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{option} '{raw}' is not a date; write YYYY-MM-DD or an ISO time with a zone.", 2)
    if value.tzinfo is None:
        fail(f"{option} '{raw}' needs a time zone (e.g. 2026-11-01T09:00:00Z).", 2)
    return value


def _filter(
    actor: str | None,
    action: str | None,
    target_type: str | None,
    target_id: str | None,
    since: str | None,
    until: str | None,
) -> AuditFilter:
    return AuditFilter(
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        since=parse_time(since, "--from"),
        until=parse_time(until, "--to"),
    )


def _params(where: AuditFilter) -> dict[str, Any]:
    return {
        "actor": where.actor,
        "action": where.action,
        "target_type": where.target_type,
        "target_id": where.target_id,
        "since": where.since.isoformat() if where.since else None,
        "until": where.until.isoformat() if where.until else None,
    }


@audit_app.command("list")
def list_(
    actor: ActorOpt = None,
    action: ActionOpt = None,
    target_type: TargetTypeOpt = None,
    target_id: TargetIdOpt = None,
    since: FromOpt = None,
    until: ToOpt = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most N events.")] = None,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="Continue from a previous page.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List audit events, newest first."""
    where = _filter(actor, action, target_type, target_id, since, until)
    if context.current().remote:
        page = context.api(
            "GET", "/api/audit/events", params={**_params(where), "limit": limit, "cursor": cursor}
        )
    else:

        async def run(session: Session, who: Actor) -> dict[str, Any]:
            result = await users_service.list_audit_events(
                session, who, where=where, limit=limit, cursor=cursor
            )
            return items(
                [AuditEventRead.of(e).model_dump(mode="json") for e in result.items],
                result.next_cursor,
            )

        page = context.run_local(run)
    show_list(page, as_json=as_json, columns=LIST_COLUMNS, title="Audit log")


@audit_app.command("verify")
def verify(as_json: JsonOpt = False) -> None:
    """Walk the hash chain; name the first event that was changed, removed or reordered (exit 1)."""
    if context.current().remote:
        data = context.api("GET", "/api/audit/verify")
    else:

        async def run(session: Session, who: Actor) -> dict[str, Any]:
            report = await users_service.verify_audit_chain(session, who)
            return ChainReportRead.of(report).model_dump(mode="json")

        data = context.run_local(run)
    if as_json:
        print_json(data)
    elif data["ok"]:
        console.print(
            f"The audit chain is intact: {data['checked']} events checked{_anchored(data)}."
        )
    if not data["ok"]:
        problem = data["first_problem"]
        err_console.print(
            f"The audit chain is broken at event {problem['event_id']}: {problem['problem']}.",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(1)


def _anchored(data: dict[str, Any]) -> str:
    if data.get("anchor_seq") is None:
        return ", no earlier anchor to compare with"
    at = datetime.fromisoformat(data["anchor_at"])
    return f", up to head {data['anchor_seq']} seen by the anchor of {at:%Y-%m-%d %H:%M} UTC"


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    )


@audit_app.command("export")
def export(
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.", dir_okay=False)],
    fmt: Annotated[str, typer.Option("--format", help="csv or jsonl.")] = "jsonl",
    actor: ActorOpt = None,
    action: ActionOpt = None,
    target_type: TargetTypeOpt = None,
    target_id: TargetIdOpt = None,
    since: FromOpt = None,
    until: ToOpt = None,
) -> None:
    """Export matching events (oldest first) as CSV or JSON lines, streamed to --output."""
    if fmt not in ("csv", "jsonl"):
        fail(f"--format '{fmt}' is not an export format; use csv or jsonl.", 2)
    chosen: Literal["csv", "jsonl"] = "csv" if fmt == "csv" else "jsonl"
    where = _filter(actor, action, target_type, target_id, since, until)
    written = (
        _export_remote(output, chosen, where)
        if context.current().remote
        else _export_local(output, chosen, where)
    )
    console.print(f"Exported {written} events to {output}.")


def _export_local(output: Path, fmt: Literal["csv", "jsonl"], where: AuditFilter) -> int:
    async def run(runtime: Runtime) -> int:
        from spectra.audit.actor import local_actor

        who = local_actor()
        async with read_scope(runtime.db) as session:
            total = await users_service.count_audit_events(session, who, where=where)
            lines = await users_service.export_audit_events(session, who, where=where, fmt=fmt)
            written = 0
            with output.open("w", encoding="utf-8", newline="") as fh, _progress() as progress:
                task = progress.add_task("Exporting audit events", total=total)
                header = fmt == "csv"
                async for line in lines:
                    fh.write(line)
                    if header:
                        header = False
                        continue
                    written += 1
                    progress.advance(task)
            return written

    return context.run_with_runtime(run)


def _export_remote(output: Path, fmt: Literal["csv", "jsonl"], where: AuditFilter) -> int:
    ctx = context.current()
    token = ctx.token or os.environ.get("SPECTRA_TOKEN")
    if not token:
        fail(
            "--server needs an API token in SPECTRA_TOKEN (create one with `spectra tokens create`).",
            5,
        )
    params = {k: v for k, v in {**_params(where), "format": fmt}.items() if v is not None}
    written = 0
    try:
        with httpx.stream(
            "GET",
            f"{ctx.server}/api/audit/export",
            params=params,
            headers={"authorization": f"Bearer {token}"},
            timeout=None,
        ) as response:
            if response.status_code >= 400:
                response.read()
                context.api(
                    "GET", "/api/audit/export", params=params
                )  # raises the server's sentence
            with output.open("wb") as fh, _progress() as progress:
                task = progress.add_task("Exporting audit events", total=None)
                for chunk in response.iter_bytes():
                    fh.write(chunk)
                    lines = chunk.count(b"\n")
                    written += lines
                    progress.advance(task, lines)
    except httpx.HTTPError as exc:
        fail(f"Cannot reach {ctx.server}: {exc}.", 9)
    # One line per event (CSV: less its header; a free-text cell holding a newline counts twice).
    return max(written - 1, 0) if fmt == "csv" else written
