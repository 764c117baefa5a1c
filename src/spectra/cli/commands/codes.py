"""`spectra codes create | list | revoke`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Annotated

import typer

from spectra.cli import transport
from spectra.cli.options import CursorOpt, JsonOpt, LimitOpt
from spectra.cli.output import (
    console,
    fail,
    fail_error,
    plain,
    print_json,
    show_list,
    show_object,
)
from spectra.errors import SpectraError
from spectra.kit import spreadsheet
from spectra.kit.money import format_amount, parse_amount

app = typer.Typer(
    help="Redemption codes: batches of prepaid value members redeem into their wallets.",
    no_args_is_help=True,
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="codes")


def _expiry(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--expires {text!r} is not a date; write it like 2026-12-31.", 2)
    if len(text) <= 10:
        value = datetime.combine(value.date(), time.max)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@app.command("create")
def create(
    count: Annotated[int, typer.Option("--count", help="How many codes.")],
    amount: Annotated[str, typer.Option("--amount", help="Value of each code, e.g. 25.00.")],
    expires: Annotated[
        str | None, typer.Option("--expires", help="Last day (UTC) a code may be redeemed.")
    ] = None,
    memo: Annotated[str, typer.Option("--memo")] = "",
    csv_path: Annotated[
        Path | None, typer.Option("--csv", help="Also write the codes to this CSV file.")
    ] = None,
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            "--idempotency-key", help="A retry with the same key creates no second batch."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Generate a batch; the codes are printed this once (Spectra keeps only keyed hashes)."""
    try:
        micros = parse_amount(amount)
    except SpectraError as exc:
        fail_error(exc)
    expires_at = _expiry(expires)
    from spectra.ledger.schemas import BatchCreated

    batch = transport.read(
        BatchCreated,
        "POST",
        "/api/codes/batches",
        json={
            "count": count,
            "amount": amount,
            "memo": memo,
            "expires_at": expires_at.isoformat() if expires_at else None,
            "idempotency_key": idempotency_key,
        },
    )
    data = plain(batch)
    if csv_path is not None:
        with csv_path.open("x", newline="") as fh:
            writer = spreadsheet.writer(fh)
            writer.writerow(["code", "value", "expires_at", "batch_id"])
            for code in batch.codes:
                writer.writerow([code, data["value"], data["expires_at"] or "", data["id"]])
    if as_json:
        print_json(data)
        return
    console.print(
        f"Batch {batch.id}: {count} codes of {format_amount(micros)} each. "
        "They are shown only now; store them safely."
    )
    for code in batch.codes:
        console.print(code, markup=False, highlight=False)


@app.command("list")
def list_(
    limit: LimitOpt = None,
    cursor: CursorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List code batches with redeemed, unused, revoked and expired counts."""
    from spectra.ledger.schemas import BatchRead

    params = {"limit": limit, "cursor": cursor}
    show_list(
        transport.read_page(BatchRead, "/api/codes/batches", params=params),
        as_json=as_json,
        columns=[
            "id",
            "created_at",
            "count",
            "value",
            "redeemed",
            "unused",
            "revoked",
            "expired",
            "memo",
        ],
    )


@app.command("revoke")
def revoke(
    batch_id: Annotated[str, typer.Argument(help="The batch id.")], as_json: JsonOpt = False
) -> None:
    """Revoke a batch's unused codes; their value returns to funding."""
    try:
        ident = uuid.UUID(batch_id)
    except ValueError:
        fail(f"{batch_id!r} is not a batch id.", 2)
    from spectra.ledger.schemas import BatchRevoked

    path = f"/api/codes/batches/{ident}/revoke"
    show_object(transport.read(BatchRevoked, "POST", path, json={}), as_json=as_json)
