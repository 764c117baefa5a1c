"""`spectra models fallbacks set MODEL --to B,C [--group G] | list | clear MODEL [--group G]`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from spectra.cli import transport
from spectra.cli.options import JsonOpt, LimitOpt
from spectra.cli.output import plain, show_list, show_object

app = typer.Typer(help="Models: fallback chains.", no_args_is_help=True)
fallbacks = typer.Typer(
    help="Which models the gateway tries, in order, when a model is overloaded, rate limited "
    "or the prompt is too long for it.",
    no_args_is_help=True,
)
app.add_typer(fallbacks, name="fallbacks")

GroupOpt = Annotated[
    str | None, typer.Option("--group", help="Only for this group's members (name or id).")
]
COLUMNS = ["model", "group", "chain", "updated_at", "updated_by"]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="models")


@fallbacks.command("set")
def set_(
    model: Annotated[str, typer.Argument(help="The model asked for, e.g. claude-opus-4-8.")],
    to: Annotated[str, typer.Option("--to", help="Fallback models in order: B,C.")],
    group: GroupOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Set (or replace) a model's fallback chain."""
    chain = [name.strip() for name in to.split(",") if name.strip()]
    body: dict[str, Any] = {"model": model, "chain": chain, "group": group}
    from spectra.pool.fallbacks import FallbackRead

    show_object(transport.read(FallbackRead, "PUT", "/api/fallbacks", json=body), as_json=as_json)


@fallbacks.command("list")
def list_(
    limit: LimitOpt = None,
    cursor: Annotated[str | None, typer.Option("--cursor", help="Unused: one page.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every fallback chain: the workspace's, then each group's."""
    from spectra.pool.fallbacks import FallbackList

    data = plain(transport.read(FallbackList, "GET", "/api/fallbacks"))
    if limit is not None:
        data["items"] = data["items"][:limit]
    if not as_json:
        for item in data["items"]:
            item["chain"] = " > ".join(item["chain"])
    show_list(data, as_json=as_json, columns=COLUMNS)


@fallbacks.command("clear")
def clear(
    model: Annotated[str, typer.Argument(help="The model whose chain to remove.")],
    group: GroupOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove a model's fallback chain (the workspace's, or --group's)."""
    from spectra.pool.fallbacks import FallbackRead

    params = {"model": model, "group": group}
    show_object(
        transport.read(FallbackRead, "DELETE", "/api/fallbacks", params=params), as_json=as_json
    )
