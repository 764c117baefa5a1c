"""Four-eyes approvals of large recharges: a different admin or billing user approves or rejects."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db.repository import paginate
from spectra.kit.clock import utc_now
from spectra.kit.money import format_amount
from spectra.kit.pagination import Page
from spectra.ledger import repository as repo
from spectra.ledger.errors import (
    ApprovalNotFoundError,
    ApprovalNotPendingError,
    FourEyesRequiredError,
)
from spectra.ledger.models import AccountKind, ApprovalStatus, RechargeApproval, TransactionKind
from spectra.users.permissions import Permission, require

from .accounts import get_or_create_account
from .post import post


async def approve_recharge(
    session: AsyncSession, actor: Actor, *, approval_id: uuid.UUID, note: str = ""
) -> RechargeApproval:
    """Approve a pending recharge and credit the wallet. The approver must not be the requester.
    Approving an approved recharge again returns it and credits nothing. Writes an audit event."""
    require(actor, Permission.LEDGER_APPROVE)
    approval = await _locked(session, approval_id)
    if approval.status == ApprovalStatus.APPROVED:
        return approval
    if approval.status != ApprovalStatus.PENDING:
        raise ApprovalNotPendingError(
            f"This recharge was already {approval.status}.", status=approval.status
        )
    if actor.identity == approval.requested_by_identity:
        raise FourEyesRequiredError(
            "A recharge above the four-eyes threshold needs a second person to approve it."
        )
    funding = await get_or_create_account(session, kind=AccountKind.FUNDING)
    txn = await post(
        session,
        actor,
        kind=TransactionKind.RECHARGE,
        postings=[
            (funding.id, -approval.amount_micros),
            (approval.account_id, approval.amount_micros),
        ],
        idempotency_key=f"approval:{approval.id}",
        memo=approval.memo,
        metadata={
            "requested_by": approval.requested_by_label,
            "approved_by": actor.label,
            "approval_id": str(approval.id),
        },
    )
    approval.status = ApprovalStatus.APPROVED
    approval.decided_by_identity = actor.identity
    approval.decided_by_label = actor.label
    approval.decided_at = utc_now()
    approval.decision_note = note
    approval.transaction_id = txn.id
    await session.flush()
    await audit_service.record(
        session,
        actor,
        "ledger.recharge.approve",
        target_type="recharge_approval",
        target_id=approval.id,
        target_label=approval.requested_by_label,
        before={"status": "pending"},
        after={"status": "approved"},
        amount=format_amount(approval.amount_micros),
        transaction_id=str(txn.id),
    )
    return approval


async def reject_recharge(
    session: AsyncSession, actor: Actor, *, approval_id: uuid.UUID, note: str = ""
) -> RechargeApproval:
    """Reject a pending recharge; nothing is credited. Writes an audit event."""
    require(actor, Permission.LEDGER_APPROVE)
    approval = await _locked(session, approval_id)
    if approval.status == ApprovalStatus.REJECTED:
        return approval
    if approval.status != ApprovalStatus.PENDING:
        raise ApprovalNotPendingError(
            f"This recharge was already {approval.status}.", status=approval.status
        )
    approval.status = ApprovalStatus.REJECTED
    approval.decided_by_identity = actor.identity
    approval.decided_by_label = actor.label
    approval.decided_at = utc_now()
    approval.decision_note = note
    await session.flush()
    await audit_service.record(
        session,
        actor,
        "ledger.recharge.reject",
        target_type="recharge_approval",
        target_id=approval.id,
        target_label=approval.requested_by_label,
        before={"status": "pending"},
        after={"status": "rejected"},
        note=note,
    )
    return approval


async def list_approvals(
    session: AsyncSession,
    actor: Actor,
    *,
    status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[RechargeApproval]:
    require(actor, Permission.READ_ALL)
    stmt = select(RechargeApproval)
    if status:
        stmt = stmt.where(RechargeApproval.status == status)
    page: Page[RechargeApproval] = await paginate(
        session,
        stmt,
        sort_time=RechargeApproval.created_at,
        sort_id=RechargeApproval.id,
        limit=limit,
        cursor=cursor,
    )
    return page


async def get_approval(
    session: AsyncSession, actor: Actor, *, approval_id: uuid.UUID
) -> RechargeApproval:
    require(actor, Permission.READ_ALL)
    approval = await session.get(RechargeApproval, approval_id)
    if approval is None:
        raise ApprovalNotFoundError(
            "That recharge approval does not exist.", approval_id=str(approval_id)
        )
    return approval


async def _locked(session: AsyncSession, approval_id: uuid.UUID) -> RechargeApproval:
    approval = await repo.lock_approval(session, approval_id)
    if approval is None:
        raise ApprovalNotFoundError(
            "That recharge approval does not exist.", approval_id=str(approval_id)
        )
    return approval
