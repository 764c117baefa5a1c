"""Options many commands share, declared once (same flag, same help everywhere)."""

from __future__ import annotations

from typing import Annotated

import typer

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
LimitOpt = Annotated[int | None, typer.Option()]
CursorOpt = Annotated[str | None, typer.Option()]


def split_list(value: str | None) -> list[str]:
    """A comma-separated option as a list (blanks dropped)."""
    return [v.strip() for v in (value or "").split(",") if v.strip()]
