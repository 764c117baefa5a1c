"""`spectra prices set MODEL --input PRICE --output PRICE ... | list`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from spectra.cli import transport
from spectra.cli.options import JsonOpt, LimitOpt
from spectra.cli.output import fail, show_list, show_object

app = typer.Typer(
    help="Model prices per million tokens in the workspace currency.", no_args_is_help=True
)

COLUMNS = [
    "model",
    "account",
    "source",
    "input",
    "output",
    "cache_read",
    "cache_write",
    "cache_write_1h",
    "web_search",
    "currency",
    "effective_from",
    "is_current",
]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="prices")


def parse_time(text: str, option: str) -> datetime:
    """An ISO date or date-time; without a zone it is UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        fail(
            f"{option} '{text}' is not a date or time; write it like 2026-12-01 or 2026-12-01T09:00Z.",
            2,
        )
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@app.command("set")
def set_(
    model: Annotated[str, typer.Argument(help="Model name, e.g. claude-sonnet-4-5.")],
    input_price: Annotated[str, typer.Option("--input", help="Price per million input tokens.")],
    output_price: Annotated[str, typer.Option("--output", help="Price per million output tokens.")],
    cache_read: Annotated[
        str | None, typer.Option("--cache-read", help="Per million cache-read tokens.")
    ] = None,
    cache_write: Annotated[
        str | None,
        typer.Option("--cache-write", help="Per million cache-write tokens (5-minute lifetime)."),
    ] = None,
    cache_write_1h: Annotated[
        str | None,
        typer.Option(
            "--cache-write-1h",
            help="Per million 1-hour cache-write tokens (default: genai-prices, else 2x input).",
        ),
    ] = None,
    web_search: Annotated[
        str | None,
        typer.Option(
            "--web-search",
            help="Per THOUSAND server-side web searches (default: genai-prices, else 10 USD).",
        ),
    ] = None,
    from_: Annotated[
        str | None,
        typer.Option(
            "--from", help="When it takes effect (UTC unless a zone is given); now by default."
        ),
    ] = None,
    account: Annotated[
        str | None,
        typer.Option(
            "--account",
            help="Only when this pool account serves the model (e.g. a negotiated price).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Set a model's price from now (or --from); earlier prices stay in history.

    With --account, the price applies only when that pool account serves the model, before
    the provider's price and the default (it follows the account if renamed)."""
    when = parse_time(from_, "--from") if from_ else None
    body: dict[str, Any] = {
        "model": model,
        "input": input_price,
        "output": output_price,
        "cache_read": cache_read,
        "cache_write": cache_write,
        "cache_write_1h": cache_write_1h,
        "web_search": web_search,
        "effective_from": when.isoformat() if when else None,
        "account": account,
    }
    from spectra.usage.schemas import PriceRead

    show_object(transport.read(PriceRead, "PUT", "/api/prices", json=body), as_json=as_json)


@app.command("list")
def list_(
    model: Annotated[str | None, typer.Option("--model", help="Only this model.")] = None,
    defaults: Annotated[
        bool, typer.Option("--defaults", help="Include genai-prices defaults.")
    ] = False,
    history: Annotated[bool, typer.Option("--history", help="Include earlier versions.")] = False,
    limit: LimitOpt = None,
    cursor: Annotated[str | None, typer.Option("--cursor", help="Unused: one page.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Prices in force (and scheduled): admin overrides, optionally the defaults."""
    params = {"model": model, "defaults": defaults, "history": history}
    from spectra.usage.schemas import PriceRead

    page = transport.read_page(PriceRead, "/api/prices", params=params)
    if limit is not None:
        page.items = page.items[:limit]
    show_list(page, as_json=as_json, columns=COLUMNS)
