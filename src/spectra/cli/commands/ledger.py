"""`spectra ledger recharge | balance | verify | transactions | approvals | approve | reject |
adjust | transfer | refund | threshold`."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated, Any

import typer

from spectra.cli import transport
from spectra.cli.options import CursorOpt, GroupOpt, JsonOpt, LimitOpt, UserOpt
from spectra.cli.output import (
    console,
    err_console,
    fail,
    fail_error,
    items,
    plain,
    print_json,
    show_list,
    show_object,
)
from spectra.errors import SpectraError
from spectra.kit.ids import uuid7
from spectra.kit.money import Micros, format_amount, parse_amount

if TYPE_CHECKING:
    from spectra.ledger.schemas import AccountRead, TransactionRead

app = typer.Typer(
    help="The ledger: balances, recharges, approvals, adjustments, transfers, refunds.",
    no_args_is_help=True,
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="ledger")


def _amount(text: str, *, signed: bool = False) -> Micros:
    try:
        return parse_amount(text, allow_negative=signed)
    except SpectraError as exc:
        fail_error(exc)


def _wallet(user: str | None, group: str | None) -> dict[str, str | None]:
    if (user is None) == (group is None):
        fail("Name exactly one of --user EMAIL or --group NAME.", 2)
    return {"user_email": user, "group_name": group}


def _show_outcome(data: dict[str, Any], as_json: bool, fields: list[str]) -> None:
    """A written transaction, or the approval it waits for (`ledger approvals`)."""
    if data.get("status") == "pending_approval":
        show_object(data, as_json=as_json, fields=["status", "approval_id", "operation", "amount"])
    else:
        show_object(_txn_row(data), as_json=as_json, fields=fields)


def _txn_row(t: dict[str, Any]) -> dict[str, Any]:
    credit = sum(p["amount_micros"] for p in t["postings"] if p["amount_micros"] > 0)
    return {**t, "amount": format_amount(credit)}


@app.command("recharge")
def recharge(
    user: UserOpt = None,
    group: GroupOpt = None,
    amount: Annotated[
        str, typer.Option("--amount", help="Amount in currency units, e.g. 12.50.")
    ] = "",
    memo: Annotated[str, typer.Option("--memo", help="Why (required).")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Credit a user's or a group's wallet (above the four-eyes threshold: waits for approval)."""
    ref = _wallet(user, group)
    _amount(amount)
    if not memo.strip():
        fail("--memo is required: say why the wallet is recharged.", 2)
    key = f"cli:{uuid7()}"
    from spectra.ledger.schemas import RechargeRead

    body = {**ref, "amount": amount, "memo": memo, "idempotency_key": key}
    done = transport.read(RechargeRead, "POST", "/api/ledger/recharges", json=body)
    if as_json:
        print_json(plain(done))
    elif done.status == "credited":
        console.print(f"Credited {amount}; the wallet now holds {plain(done.account)['balance']}.")
    else:
        console.print(
            f"Recharge of {amount} waits for a second approver (approval {done.approval_id})."
        )


@app.command("balance")
def balance(user: UserOpt = None, group: GroupOpt = None, as_json: JsonOpt = False) -> None:
    """Show a wallet's balance."""
    show_object(_balance(user, group), as_json=as_json, fields=["kind", "owner_id", "balance"])


def _balance(user: str | None, group: str | None) -> AccountRead:
    """The wallet of --user or --group (exactly one)."""
    from spectra.ledger.schemas import AccountRead

    return transport.read(AccountRead, "GET", "/api/ledger/balance", params=_wallet(user, group))


@app.command("verify")
def verify(as_json: JsonOpt = False) -> None:
    """Recompute every balance from postings and check every invariant; non-zero exit on any disagreement."""
    from spectra.ledger.schemas import VerifyRead

    report = transport.read(VerifyRead, "GET", "/api/ledger/verify")
    if as_json:
        print_json(plain(report))
    else:
        for problem in report.problems:
            err_console.print(problem.message, markup=False, highlight=False, soft_wrap=True)
        if report.ok:
            console.print(
                f"Ledger verified: {report.accounts} accounts, {report.transactions} transactions, "
                f"{report.postings} postings; every balance equals its postings."
            )
    if not report.ok:
        if not as_json:
            err_console.print(f"{len(report.problems)} disagreement(s) found.", markup=False)
        raise typer.Exit(1)


@app.command("transactions")
def transactions(
    user: UserOpt = None,
    group: GroupOpt = None,
    kind: Annotated[str | None, typer.Option("--kind", help="Only this kind.")] = None,
    limit: LimitOpt = None,
    cursor: CursorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List ledger transactions, newest first."""
    from spectra.ledger.schemas import TransactionRead

    params: dict[str, Any] = {"kind": kind, "limit": limit, "cursor": cursor}
    if user or group:
        acct = _balance(user, group)
        params[f"{acct.kind.split('_')[0]}_id"] = str(acct.owner_id)
    page = transport.read_page(TransactionRead, "/api/ledger/transactions", params=params)
    rows = [{**plain(t), "amount": format_amount(_credit(t))} for t in page.items]
    show_list(
        items(rows, page.next_cursor),
        as_json=as_json,
        columns=["id", "created_at", "kind", "amount", "memo", "actor_label"],
    )


def _credit(txn: TransactionRead) -> int:
    """What a transaction moves: the sum of its credits."""
    return sum(p.amount_micros for p in txn.postings if p.amount_micros > 0)


@app.command("approvals")
def approvals(
    status: Annotated[
        str | None, typer.Option("--status", help="pending, approved or rejected.")
    ] = "pending",
    limit: LimitOpt = None,
    cursor: CursorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List recharges waiting for (or past) a second approval."""
    from spectra.ledger.schemas import ApprovalRead

    params = {"status": status, "limit": limit, "cursor": cursor}
    show_list(
        transport.read_page(ApprovalRead, "/api/ledger/approvals", params=params),
        as_json=as_json,
        columns=["id", "operation", "amount", "memo", "status", "requested_by", "decided_by"],
    )


def _decide(approval_id: str, note: str, as_json: bool, *, approve: bool) -> None:
    try:
        ident = uuid.UUID(approval_id)
    except ValueError:
        fail(f"{approval_id!r} is not an approval id.", 2)
    verb = "approve" if approve else "reject"
    from spectra.ledger.schemas import ApprovalRead

    path = f"/api/ledger/approvals/{ident}/{verb}"
    show_object(
        transport.read(ApprovalRead, "POST", path, json={"note": note}),
        as_json=as_json,
        fields=["id", "amount", "status", "requested_by", "decided_by", "transaction_id"],
    )


@app.command("approve")
def approve(
    approval_id: Annotated[str, typer.Argument(help="The approval id.")],
    note: Annotated[str, typer.Option("--note")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Approve a pending money operation (you must not be the one who asked for it)."""
    _decide(approval_id, note, as_json, approve=True)


@app.command("reject")
def reject(
    approval_id: Annotated[str, typer.Argument(help="The approval id.")],
    note: Annotated[str, typer.Option("--note")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Reject a pending recharge."""
    _decide(approval_id, note, as_json, approve=False)


@app.command("adjust")
def adjust(
    user: UserOpt = None,
    group: GroupOpt = None,
    amount: Annotated[
        str, typer.Option("--amount", help="Signed: -5.00 debits, 5.00 credits.")
    ] = "",
    reason: Annotated[str, typer.Option("--reason", help="Why (required).")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Credit or debit a wallet with a reason."""
    ref = _wallet(user, group)
    _amount(amount, signed=True)
    key = f"cli:{uuid7()}"
    data: dict[str, Any] = transport.api(
        "POST",
        "/api/ledger/adjustments",
        json={**ref, "amount": amount, "reason": reason, "idempotency_key": key},
    )
    _show_outcome(data, as_json, ["id", "kind", "amount", "memo"])


@app.command("transfer")
def transfer(
    from_user: Annotated[str | None, typer.Option("--from-user")] = None,
    from_group: Annotated[str | None, typer.Option("--from-group")] = None,
    to_user: Annotated[str | None, typer.Option("--to-user")] = None,
    to_group: Annotated[str | None, typer.Option("--to-group")] = None,
    amount: Annotated[str, typer.Option("--amount")] = "",
    memo: Annotated[str, typer.Option("--memo")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Move money between two wallets."""
    source, target = _wallet(from_user, from_group), _wallet(to_user, to_group)
    _amount(amount)
    key = f"cli:{uuid7()}"
    data: dict[str, Any] = transport.api(
        "POST",
        "/api/ledger/transfers",
        json={
            "source": source,
            "target": target,
            "amount": amount,
            "memo": memo,
            "idempotency_key": key,
        },
    )
    _show_outcome(data, as_json, ["id", "kind", "amount", "memo"])


@app.command("refund")
def refund(
    transaction_id: Annotated[str, typer.Argument(help="The usage transaction id.")],
    amount: Annotated[
        str | None, typer.Option("--amount", help="Part of it; all that is left by default.")
    ] = None,
    reason: Annotated[str, typer.Option("--reason")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Refund a usage transaction, fully or partly."""
    try:
        ident = uuid.UUID(transaction_id)
    except ValueError:
        fail(f"{transaction_id!r} is not a transaction id.", 2)
    if amount is not None:
        _amount(amount)
    key = f"cli:{uuid7()}"
    data: dict[str, Any] = transport.api(
        "POST",
        "/api/ledger/refunds",
        json={
            "transaction_id": str(ident),
            "amount": amount,
            "reason": reason,
            "idempotency_key": key,
        },
    )
    _show_outcome(data, as_json, ["id", "kind", "amount", "memo", "reverses_id"])
