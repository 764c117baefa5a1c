"""`spectra audit ...`: list the log with filters, verify its hash chain, export it."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import UTC, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO, Literal

import typer

from spectra.cli import transport
from spectra.cli.options import CursorOpt, JsonOpt
from spectra.cli.output import console, err_console, fail, print_json, show_list

if TYPE_CHECKING:
    import httpx
    from rich.progress import Progress

    from spectra.audit.service import AuditFilter

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)

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
    from spectra.audit.service import AuditFilter

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
    cursor: CursorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List audit events, newest first."""
    where = _filter(actor, action, target_type, target_id, since, until)
    from spectra.audit.schemas import AuditEventRead

    params = {**_params(where), "limit": limit, "cursor": cursor}
    page = transport.read_page(AuditEventRead, "/api/audit/events", params=params)
    show_list(page, as_json=as_json, columns=LIST_COLUMNS, title="Audit log")


@audit_app.command("verify")
def verify(as_json: JsonOpt = False) -> None:
    """Walk the hash chain; name the first event that was changed, removed or reordered (exit 1)."""
    data = transport.api("GET", "/api/audit/verify")
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
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

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
    written = _export(output, chosen, where)
    console.print(f"Exported {written} events to {output}.")


def _export(output: Path, fmt: Literal["csv", "jsonl"], where: AuditFilter) -> int:
    """Stream the export into `output` (opened once the server answered), with a progress bar."""
    params = {**_params(where), "format": fmt}
    written = 0
    with ExitStack() as stack:
        progress = stack.enter_context(_progress())
        task = progress.add_task("Exporting audit events", total=None)
        files: list[BinaryIO] = []

        def start(headers: httpx.Headers) -> None:
            files.append(stack.enter_context(output.open("wb")))
            total = headers.get("x-total-count")
            if total is not None and total.isdigit():
                progress.update(task, total=int(total) + (1 if fmt == "csv" else 0))

        def write(chunk: bytes) -> None:
            nonlocal written
            files[0].write(chunk)
            lines = chunk.count(b"\n")
            written += lines
            progress.advance(task, lines)

        transport.stream("GET", "/api/audit/export", write, on_start=start, params=params)
    # One line per event (CSV: less its header; a free-text cell holding a newline counts twice).
    return max(written - 1, 0) if fmt == "csv" else written
