"""Options many commands share, declared once (same flag, same help everywhere)."""

from __future__ import annotations

from typing import Annotated

import typer

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
LimitOpt = Annotated[int | None, typer.Option("--limit", help="At most N rows.")]
CursorOpt = Annotated[str | None, typer.Option("--cursor", help="Continue from a previous page.")]
ReasonOpt = Annotated[str, typer.Option(help="Why (shown in the audit log).")]
UserOpt = Annotated[str | None, typer.Option("--user", help="The user's email.")]
GroupOpt = Annotated[str | None, typer.Option("--group", help="The group's name.")]
ModelOpt = Annotated[str | None, typer.Option("--model", help="Model as requested.")]
StatusOpt = Annotated[str | None, typer.Option("--status", help="ok, refused, error, partial.")]
SinceOpt = Annotated[str | None, typer.Option("--from", help="From this date or time (UTC).")]
UntilOpt = Annotated[str | None, typer.Option("--to", help="Before this date or time (UTC).")]


def split_list(value: str | None) -> list[str]:
    """A comma-separated option as a list (blanks dropped)."""
    return [v.strip() for v in (value or "").split(",") if v.strip()]
