"""Recharges: the recharge form (a confirmation step, and an idempotency key made per form
render so a double submit credits once), the four-eyes approvals queue, member recharge
requests, and redemption code batches (generate and download the CSV once, revoke).

URLs: GET /console/recharges (?user=EMAIL or ?group=NAME prefills), POST /console/recharges/confirm,
POST /console/recharges, POST /console/approvals/{id}/{approve,reject},
POST /console/recharge-requests/{id}/{approve,reject}, GET/POST /console/codes,
POST /console/codes/{batch_id}/revoke.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from spectra.audit.actor import Actor
from spectra.console.deps import AdminDep, ReadSessionDep, SessionDep, require_recent_auth
from spectra.console.forms import Form, field_errors
from spectra.console.i18n import N_, _
from spectra.console.render import redirect, render
from spectra.console.tables import Column, TableSpec
from spectra.db.session import Session
from spectra.errors import InvalidError, SpectraError
from spectra.kit.ids import uuid7
from spectra.kit.money import display
from spectra.ledger import service as ledger_service
from spectra.ledger.models import LedgerAccount
from spectra.users import service as users_service
from spectra.web.downloads import codes_csv, codes_disposition
from spectra.workspace import service as workspace_service

router = APIRouter()


async def wallet_label(session: Any, actor: Any, account: LedgerAccount) -> str:
    """`user@example.com` or `group Platform` for a wallet; the kind for other accounts."""
    if account.owner_id is None:
        return account.kind
    try:
        if account.kind == "user_wallet":
            return (await users_service.get_user(session, actor, user=account.owner_id)).email
        if account.kind == "group_wallet":
            group = await users_service.get_group(session, actor, group=account.owner_id)
            return f"group {group.name}"
    except SpectraError:
        pass
    return f"{account.kind}:{account.owner_id}"


async def _target(
    session: Any, actor: Actor, form: Form
) -> tuple[uuid.UUID | None, uuid.UUID | None, str]:
    user, group = form.get("user"), form.get("group")
    if bool(user) == bool(group):
        raise InvalidError("Name either a member (email) or a group, not both.", field="user")
    user_id, group_id = await ledger_service.resolve_owner(
        session, actor, user_email=user, group_name=group
    )
    return user_id, group_id, (user or f"group {group}")


APPROVALS = TableSpec(
    "approvals",
    (
        Column("asked", "Asked", "approval.created_at", kind="when"),
        Column("what", "What", "approval.operation"),
        Column("wallet", "Wallet"),
        Column("amount", "Amount", "approval.amount_micros", kind="money"),
        Column("memo", "Memo", "approval.memo"),
        Column("by", "Requested by", "approval.requested_by_label"),
        Column("decide", "Decide", kind="action"),
    ),
    empty=N_("Nothing waits: recharges above the four-eyes threshold show up here."),
    prefix="a",
)
"""Pending four-eyes approvals: a queue the ledger service answers whole (up to 500)."""

REQUESTS = TableSpec(
    "recharge-requests",
    (
        Column("asked", "Asked", "request.created_at", kind="when"),
        Column("member", "Member", "email"),
        Column("amount", "Amount", "request.amount_micros", kind="money"),
        Column("reason", "Reason", "request.reason"),
        Column("decide", "Decide", kind="action"),
    ),
    empty=N_("No open requests: members ask for a recharge from their wallet page."),
    prefix="r",
)
"""Members' pending recharge requests, answered whole (up to 500)."""


async def _page(
    request: Request,
    viewer: Any,
    session: Any,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    actor = viewer.actor
    approvals = await ledger_service.list_approvals(session, actor, status="pending", limit=500)
    approval_rows = []
    for a in approvals.items:
        account = await ledger_service.get_account(session, a.account_id)
        approval_rows.append({"approval": a, "wallet": await wallet_label(session, actor, account)})
    requests = await ledger_service.list_recharge_requests(
        session, actor, status="pending", limit=500
    )
    request_rows = []
    for r in requests.items:
        who = await users_service.get_user(session, actor, user=r.user_id)
        request_rows.append({"request": r, "email": who.email})
    recent = await ledger_service.list_approvals(session, actor, limit=10)
    approvals_table = APPROVALS.build(request, approval_rows)
    requests_table = REQUESTS.build(request, request_rows)
    if (answer := approvals_table.csv() or requests_table.csv()) is not None:
        return answer
    values = dict(values or {})
    values.setdefault("user", request.query_params.get("user", ""))
    values.setdefault("group", request.query_params.get("group", ""))
    return render(
        request,
        viewer,
        "recharges/index.html",
        title=_("Recharges"),
        nav="Recharges",
        values=values,
        errors=errors or {},
        approvals_table=approvals_table,
        requests_table=requests_table,
        recent=recent.items,
    )


@router.get("/recharges")
async def recharges(request: Request, viewer: AdminDep, session: ReadSessionDep) -> Response:
    return await _page(request, viewer, session)


@router.post("/recharges/confirm")
async def confirm(request: Request, viewer: AdminDep, session: SessionDep) -> Response:
    """Check the form and ask for confirmation; the confirm form carries a fresh idempotency key."""
    form = await Form.read(request)
    try:
        user_id, group_id, label = await _target(session, viewer.actor, form)
        amount = form.amount("amount", label="Amount")
        waits = await ledger_service.recharge_would_wait(
            session, viewer.actor, user_id=user_id, group_id=group_id, amount=amount
        )
        if not form["memo"]:
            raise InvalidError("Write a memo: it is what the ledger will say.", field="memo")
    except SpectraError as exc:
        await session.rollback()
        return await _page(
            request,
            viewer,
            session,
            values=form.data,
            errors=field_errors(exc, default_field="user"),
        )
    return render(
        request,
        viewer,
        "recharges/confirm.html",
        title=_("Confirm the recharge"),
        nav="Recharges",
        label=label,
        amount=amount,
        values=form.data,
        idempotency_key=str(uuid7()),
        outcome=await _outcome_sentence(session, waits),
        waits=waits is not None,
    )


async def _outcome_sentence(session: Session, waits: str | None) -> str:
    """What confirming will do, by the same four-eyes rule the recharge itself applies."""
    ws = await workspace_service.get_settings(session)
    threshold = ws.four_eyes_threshold_micros
    limit = f"the four-eyes threshold ({display(threshold)})" if threshold is not None else ""
    if waits == "over_threshold":
        return f"This is above {limit}: a second admin must approve it before it is credited."
    if waits == "split":
        return (
            f"With what you created in the last {ws.four_eyes_window_hours} hours this goes above "
            f"{limit}: a second admin must approve it before it is credited."
        )
    if waits == "own_wallet":
        return (
            "This credits your own wallet or group: a second admin must approve it before it is "
            "credited."
        )
    if threshold is None:
        return "No four-eyes threshold is set: it is credited at once when you confirm."
    return f"This is within {limit}: it is credited at once when you confirm."


@router.post("/recharges")
async def recharge(request: Request, viewer: AdminDep, session: SessionDep) -> Response:
    """Credit the wallet; the same idempotency key (a double submit) credits once."""
    form = await Form.read(request)
    user_id, group_id, label = await _target(session, viewer.actor, form)
    amount = form.amount("amount", label="Amount")
    threshold = (await workspace_service.get_settings(session)).four_eyes_threshold_micros
    if threshold is not None and amount > threshold:
        await require_recent_auth(session, viewer)
    key = form.get("idempotency_key") or str(uuid7())
    outcome = await ledger_service.recharge(
        session,
        viewer.actor,
        user_id=user_id,
        group_id=group_id,
        amount=amount,
        memo=form["memo"],
        idempotency_key=f"console:{key}",
    )
    if outcome.status == "credited":
        return redirect(
            "/console/recharges",
            ok=_("Credited %(display)s to %(label)s.", display=display(amount), label=label),
        )
    return redirect(
        "/console/recharges",
        ok=_(
            "%(display)s for %(label)s waits for a second admin's approval.",
            display=display(amount),
            label=label,
        ),
    )


@router.post("/approvals/{approval_id}/approve")
async def approve(
    approval_id: uuid.UUID, request: Request, viewer: AdminDep, session: SessionDep
) -> Response:
    await require_recent_auth(session, viewer)
    form = await Form.read(request)
    approval = await ledger_service.approve_recharge(
        session, viewer.actor, approval_id=approval_id, note=form["note"]
    )
    return redirect(
        "/console/recharges",
        ok=_("Approved: %(display)s is credited.", display=display(approval.amount_micros)),
    )


@router.post("/approvals/{approval_id}/reject")
async def reject(
    approval_id: uuid.UUID, request: Request, viewer: AdminDep, session: SessionDep
) -> Response:
    form = await Form.read(request)
    await ledger_service.reject_recharge(
        session, viewer.actor, approval_id=approval_id, note=form["note"]
    )
    return redirect("/console/recharges", ok=_("Rejected."))


@router.post("/recharge-requests/{request_id}/approve")
async def approve_request(
    request_id: uuid.UUID, request: Request, viewer: AdminDep, session: SessionDep
) -> Response:
    await require_recent_auth(session, viewer)
    form = await Form.read(request)
    row = await ledger_service.approve_recharge_request(
        session, viewer.actor, request_id=request_id, note=form["note"]
    )
    message = (
        f"Approved: {display(row.amount_micros)} is credited."
        if row.status == "approved" and row.transaction_id
        else f"Request is {row.status.replace('_', ' ')}."
    )
    return redirect("/console/recharges", ok=message)


@router.post("/recharge-requests/{request_id}/reject")
async def reject_request(
    request_id: uuid.UUID, request: Request, viewer: AdminDep, session: SessionDep
) -> Response:
    form = await Form.read(request)
    await ledger_service.reject_recharge_request(
        session, viewer.actor, request_id=request_id, note=form["note"]
    )
    return redirect("/console/recharges", ok=_("Request rejected."))


@router.get("/codes")
async def codes(
    request: Request, viewer: AdminDep, session: ReadSessionDep, cursor: str | None = None
) -> Response:
    page = await ledger_service.list_batches(session, viewer.actor, limit=50, cursor=cursor)
    return render(
        request,
        viewer,
        "recharges/codes.html",
        title=_("Redemption codes"),
        nav="Recharges",
        batches=page.items,
        next_cursor=page.next_cursor,
        form_key=str(uuid7()),  # a double submit of this form creates one batch
    )


@router.post("/codes")
async def create_codes(request: Request, viewer: AdminDep, session: SessionDep) -> Response:
    """Generate a batch and answer with its CSV as a download: the codes exist only in it."""
    form = await Form.read(request)
    expires = form.get("expires_at")
    expires_at = None
    if expires:
        try:
            expires_at = datetime.fromisoformat(expires)
        except ValueError:
            raise InvalidError("The expiry must be a date like 2026-12-31.") from None
        expires_at = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)
    created = await ledger_service.create_codes(
        session,
        viewer.actor,
        count=form.integer("count", 1, label="Count"),
        amount=form.amount("amount", label="Value"),
        expires_at=expires_at,
        memo=form["memo"],
        idempotency_key=form.get("idempotency_key") or None,
    )
    batch = created.batch
    text = codes_csv(created.codes, batch)
    return Response(
        text,
        media_type="text/csv",
        headers={
            "content-disposition": codes_disposition(batch.id),
            "cache-control": "no-store",
        },
    )


@router.post("/codes/{batch_id}/revoke")
async def revoke_codes(batch_id: uuid.UUID, viewer: AdminDep, session: SessionDep) -> Response:
    revoked = await ledger_service.revoke_codes(session, viewer.actor, batch_id=batch_id)
    return redirect(
        "/console/codes", ok=_("%(revoked)s unused codes are revoked.", revoked=revoked)
    )
