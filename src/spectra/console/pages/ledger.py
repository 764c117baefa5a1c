"""The ledger: transactions (filtered by member, group, kind), verification, adjustments,
transfers, refunds, low-balance thresholds and notices. Every money form carries an idempotency
key made when the page renders, so a double submit posts once.

URLs: GET /console/ledger, GET /console/ledger/verify, POST /console/ledger/adjust,
POST /console/ledger/transfer, POST /console/ledger/refund, POST /console/ledger/threshold.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from spectra.audit.actor import Actor
from spectra.console.deps import AdminDep, ReadSessionDep, SessionDep
from spectra.console.forms import Form
from spectra.console.i18n import N_, _
from spectra.console.pages.recharges import wallet_label
from spectra.console.render import redirect, render
from spectra.console.tables import Column, TableSpec
from spectra.errors import InvalidError
from spectra.kit.ids import uuid7
from spectra.kit.money import display
from spectra.ledger import service as ledger_service
from spectra.ledger.models import TransactionKind
from spectra.ledger.schemas import TransactionRead, VerifyRead

router = APIRouter()

KINDS = tuple(k.value for k in TransactionKind)


def _postings_text(row: dict[str, Any]) -> str:
    return ", ".join(f"{p['wallet']} {p['amount']}" for p in row["postings"])


TRANSACTION_COLUMNS = (
    Column("created_at", "When", "t.created_at", kind="when"),
    Column("kind", "Kind", "t.kind"),
    Column("memo", "Memo", "t.memo"),
    Column("by", "By", "t.actor_label"),
    Column("postings", "Wallets", _postings_text, sortable=False),
    Column("id", "Id", "t.id"),
)
TRANSACTIONS = TableSpec(
    "transactions",
    TRANSACTION_COLUMNS,
    empty=N_("No transactions match: recharge a member or a group to start the ledger."),
)


async def wallet_names(session: Any, actor: Actor, account_ids: Any) -> dict[uuid.UUID, str]:
    """Whose wallet each ledger account is (`alice@example.com`, `group Platform`, `revenue`)."""
    names: dict[uuid.UUID, str] = {}
    for account_id in account_ids:
        if account_id not in names:
            account = await ledger_service.get_account(session, account_id)
            names[account_id] = await wallet_label(session, actor, account)
    return names


async def _owner(
    session: Any, actor: Actor, form: Form, prefix: str = ""
) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    user, group = form.get(f"{prefix}user"), form.get(f"{prefix}group")
    if bool(user) == bool(group):
        raise InvalidError("Name either a member (email) or a group for each wallet.")
    return await ledger_service.resolve_owner(session, actor, user_email=user, group_name=group)


@router.get("/ledger")
async def ledger(
    request: Request,
    viewer: AdminDep,
    session: ReadSessionDep,
    user: str | None = None,
    group: str | None = None,
    kind: str | None = None,
) -> Response:
    actor = viewer.actor
    user_id = group_id = None
    balance = None
    wallet = None
    if user or group:
        user_id, group_id = await ledger_service.resolve_owner(
            session, actor, user_email=user or None, group_name=None if user else group
        )
        account = await ledger_service.get_wallet(
            session, actor, user_id=user_id, group_id=group_id
        )
        balance = account.balance_micros
        wallet = await wallet_label(session, actor, account)
    page = await ledger_service.list_transactions(
        session,
        actor,
        user_id=user_id,
        group_id=group_id,
        kind=kind or None,
        listing=TRANSACTIONS.query(request),
    )
    notices = await ledger_service.list_notices(session, actor, limit=10)
    transactions = [TransactionRead.model_validate(t) for t in page.items]
    names = await wallet_names(
        session,
        actor,
        [p.account_id for t in transactions for p in t.postings]
        + [n.account_id for n in notices.items],
    )
    rows = [
        {
            "t": t,
            "postings": [
                {"wallet": names[p.account_id], "amount": display(p.amount_micros), "p": p}
                for p in t.postings
            ],
        }
        for t in transactions
    ]
    table = TRANSACTIONS.show(request, page, rows)
    return table.csv() or render(
        request,
        viewer,
        "ledger/index.html",
        title=_("Ledger"),
        nav="Ledger",
        table=table,
        wallet_names=names,
        kinds=KINDS,
        balance=balance,
        wallet=wallet,
        notices=notices.items,
        key=str(uuid7()),
        report=None,
    )


@router.get("/ledger/verify")
async def verify(request: Request, viewer: AdminDep, session: ReadSessionDep) -> Response:
    """Recompute every balance from postings and check every invariant."""
    report = VerifyRead.model_validate(await ledger_service.verify(session, viewer.actor))
    return render(
        request,
        viewer,
        "ledger/verify.html",
        title=_("Ledger verification"),
        nav="Ledger",
        report=report,
    )


@router.post("/ledger/adjust")
async def adjust(request: Request, viewer: AdminDep, session: SessionDep) -> Response:
    form = await Form.read(request)
    user_id, group_id = await _owner(session, viewer.actor, form)
    amount = form.amount("amount", label="Amount")
    if form["direction"] == "debit":
        amount = -amount  # type: ignore[assignment]
    outcome = await ledger_service.adjust(
        session,
        viewer.actor,
        user_id=user_id,
        group_id=group_id,
        amount=amount,
        reason=form["reason"],
        idempotency_key=f"console:{form.get('idempotency_key') or uuid7()}",
    )
    return redirect("/console/ledger", ok=_said(outcome, f"Adjusted by {display(amount)}."))


@router.post("/ledger/transfer")
async def transfer(request: Request, viewer: AdminDep, session: SessionDep) -> Response:
    form = await Form.read(request)
    from_user, from_group = await _owner(session, viewer.actor, form, "from_")
    to_user, to_group = await _owner(session, viewer.actor, form, "to_")
    amount = form.amount("amount", label="Amount")
    outcome = await ledger_service.transfer(
        session,
        viewer.actor,
        from_user_id=from_user,
        from_group_id=from_group,
        to_user_id=to_user,
        to_group_id=to_group,
        amount=amount,
        memo=form["memo"],
        idempotency_key=f"console:{form.get('idempotency_key') or uuid7()}",
    )
    return redirect("/console/ledger", ok=_said(outcome, f"Transferred {display(amount)}."))


@router.post("/ledger/refund")
async def refund(request: Request, viewer: AdminDep, session: SessionDep) -> Response:
    form = await Form.read(request)
    try:
        transaction_id = uuid.UUID(form["transaction_id"])
    except ValueError:
        raise InvalidError("Paste the id of the transaction to refund.") from None
    amount = form.optional_amount("amount", label="Amount")
    outcome = await ledger_service.refund(
        session,
        viewer.actor,
        transaction_id=transaction_id,
        amount=amount or None,
        reason=form["reason"],
        idempotency_key=f"console:{form.get('idempotency_key') or uuid7()}",
    )
    return redirect("/console/ledger", ok=_said(outcome, "Refunded."))


def _said(outcome: ledger_service.RechargeOutcome, done: str) -> str:
    if outcome.approval is not None:
        return "This waits for a second approver; it is listed under Approvals."
    return done


@router.post("/ledger/threshold")
async def threshold(request: Request, viewer: AdminDep, session: SessionDep) -> Response:
    form = await Form.read(request)
    user_id, group_id = await _owner(session, viewer.actor, form)
    value = form.optional_amount("threshold", label="Threshold")
    await ledger_service.set_low_balance_threshold(
        session, viewer.actor, user_id=user_id, group_id=group_id, threshold=value
    )
    return redirect(
        "/console/ledger",
        ok="Threshold silenced." if value is None else f"Threshold set to {display(value)}.",
    )
