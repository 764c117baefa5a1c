"""Four-eyes approvals of money operations (four_eyes.py): an independent admin or billing user
approves (and so applies) or rejects them."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db.repository import paginate_by_created
from spectra.db.session import AnySession, Session
from spectra.kit.clock import utc_now
from spectra.kit.money import format_amount
from spectra.kit.pagination import Page
from spectra.ledger import repository as repo
from spectra.ledger.errors import (
    ApprovalNotFoundError,
    ApprovalNotPendingError,
    ApproverNotIndependentError,
    FourEyesRequiredError,
)
from spectra.ledger.models import (
    ApprovalOperation,
    ApprovalStatus,
    LedgerTransaction,
    RechargeApproval,
)
from spectra.users import service as users_service
from spectra.users.permissions import Permission, require

from .accounts import get_account
from .recharge import apply_recharge
from .refund import apply_refund
from .transfer import apply_adjust, apply_transfer


async def approve_recharge(
    session: Session, actor: Actor, *, approval_id: uuid.UUID, note: str = ""
) -> RechargeApproval:
    """Approve a pending money operation and apply it, as the approver. The approver must be
    independent: not the requester, and not signed in with a credential someone else set (see
    `users_service.credential_provenance`). Approving an approved one again returns it and
    moves nothing. Writes an audit event naming requester, approver and the credential."""
    return await _decide(session, actor, approval_id, ApprovalStatus.APPROVED, note)


async def reject_recharge(
    session: Session, actor: Actor, *, approval_id: uuid.UUID, note: str = ""
) -> RechargeApproval:
    """Reject a pending recharge; nothing is credited. Rejecting a rejected one again returns it.
    Writes an audit event."""
    return await _decide(session, actor, approval_id, ApprovalStatus.REJECTED, note)


_VERBS = {ApprovalStatus.APPROVED: "approve", ApprovalStatus.REJECTED: "reject"}


async def _decide(
    session: Session,
    actor: Actor,
    approval_id: uuid.UUID,
    to: ApprovalStatus,
    note: str,
) -> RechargeApproval:
    """The one transition out of pending: approved (the operation is applied) or rejected. The
    same decision again is a no-op that returns the approval; any other is refused."""
    require(actor, Permission.LEDGER_APPROVE)
    approval = await _locked(session, approval_id)
    if approval.status == to:
        return approval
    if approval.status != ApprovalStatus.PENDING:
        raise ApprovalNotPendingError(
            f"This request was already {approval.status}.", status=approval.status
        )
    details: dict[str, str]
    if to == ApprovalStatus.APPROVED:
        credential = await _independent(session, actor, approval)
        metadata = {
            "requested_by": approval.requested_by_label,
            "approved_by": actor.label,
            "approval_id": str(approval.id),
        }
        txn = await _apply(session, actor, approval, metadata)
        approval.decided_by_credential = credential
        approval.transaction_id = txn.id
        details = {
            "amount": format_amount(approval.amount_micros),
            "transaction_id": str(txn.id),
            "requested_by": approval.requested_by_label,
            "approved_by": actor.label,
            "approver_provenance": credential,
        }
    else:
        details = {"note": note}
    approval.status = to
    approval.decided_by_identity = actor.identity
    approval.decided_by_label = actor.label
    approval.decided_at = utc_now()
    approval.decision_note = note
    await session.flush()
    await audit_service.record(
        session,
        actor,
        f"ledger.{approval.operation}.{_VERBS[to]}",
        target_type="recharge_approval",
        target_id=approval.id,
        target_label=approval.requested_by_label,
        before={"status": "pending"},
        after={"status": str(to)},
        **details,
    )
    return approval


async def _independent(session: AnySession, actor: Actor, approval: RechargeApproval) -> str:
    """The approver's credential provenance, or a refusal when they are not independent."""
    if actor.identity == approval.requested_by_identity:
        raise FourEyesRequiredError(
            "This needs a second person to approve it; you requested it yourself."
        )
    if actor.user_id is None:
        return str(actor.kind)
    user = await repo.get_user(session, actor.user_id)
    if user is None:
        return "self"
    credential = users_service.credential_provenance(user)
    if user.credential_issued_by is not None:
        raise ApproverNotIndependentError(
            f"Your password was set by {user.credential_issued_by}, not by you; change it "
            "yourself before you approve money.",
            credential=credential,
        )
    if await users_service.credential_issuer(session, user.id) == approval.requested_by_label:
        raise ApproverNotIndependentError(
            f"Your password descends from one {approval.requested_by_label} set for you; they "
            "may still know it, so you cannot approve their request.",
            credential=f"issued:{approval.requested_by_label}",
        )
    return credential


async def _apply(
    session: Session, actor: Actor, approval: RechargeApproval, metadata: dict[str, str]
) -> LedgerTransaction:
    key = f"approval:{approval.id}"
    account = await get_account(session, approval.account_id)
    payload = approval.payload or {}
    if approval.operation == ApprovalOperation.ADJUST:
        return await apply_adjust(
            session,
            actor,
            wallet=account,
            amount=approval.amount_micros,
            reason=approval.memo,
            key=key,
            metadata=metadata,
        )
    if approval.operation == ApprovalOperation.TRANSFER:
        source = await get_account(session, uuid.UUID(payload["source_account_id"]))
        return await apply_transfer(
            session,
            actor,
            source=source,
            target=account,
            amount=approval.amount_micros,
            memo=approval.memo,
            key=key,
            metadata=metadata,
        )
    if approval.operation == ApprovalOperation.REFUND:
        return await apply_refund(
            session,
            actor,
            transaction_id=uuid.UUID(payload["transaction_id"]),
            amount=approval.amount_micros,
            reason=approval.memo,
            key=key,
            metadata=metadata,
        )
    return await apply_recharge(
        session,
        actor,
        wallet=account,
        amount=approval.amount_micros,
        memo=approval.memo,
        key=key,
        metadata=metadata,
        audit=False,
    )


async def list_approvals(
    session: AnySession,
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
    return await paginate_by_created(session, stmt, RechargeApproval, limit=limit, cursor=cursor)


async def get_approval(
    session: AnySession, actor: Actor, *, approval_id: uuid.UUID
) -> RechargeApproval:
    require(actor, Permission.READ_ALL)
    approval = await session.get(RechargeApproval, approval_id)
    if approval is None:
        raise ApprovalNotFoundError(
            "That recharge approval does not exist.", approval_id=str(approval_id)
        )
    return approval


async def _locked(session: Session, approval_id: uuid.UUID) -> RechargeApproval:
    approval = await repo.lock_approval(session, approval_id)
    if approval is None:
        raise ApprovalNotFoundError(
            "That recharge approval does not exist.", approval_id=str(approval_id)
        )
    return approval
