"""Member recharge requests: a member asks (amount, reason); an admin or billing user decides."""

from __future__ import annotations

import uuid

from sqlalchemy import or_, select

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db.repository import paginate_by_created
from spectra.db.session import AnySession, Session
from spectra.errors import InvalidError
from spectra.kit.clock import utc_now
from spectra.kit.money import format_amount
from spectra.kit.pagination import Page
from spectra.ledger import repository as repo
from spectra.ledger.errors import (
    FourEyesRequiredError,
    RechargeRequestNotFoundError,
    RechargeRequestNotPendingError,
)
from spectra.ledger.models import ApprovalStatus, RechargeRequest
from spectra.users import service as users_service
from spectra.users.models import User
from spectra.users.permissions import Permission, ReadOnlyTokenError, allows, require
from spectra.users.scope import (
    Scope,
    deny,
    lead_groups_over,
    led_groups,
    member_ids_in,
    scope_for,
)

from ._common import positive
from .recharge import recharge
from .transfer import transfer


async def create_recharge_request(
    session: Session, actor: Actor, *, amount: int, reason: str
) -> RechargeRequest:
    """A signed-in member asks for a recharge of their own wallet (not with a read-only token).
    Writes an audit event."""
    require(actor, Permission.SELF)
    if actor.read_only:
        raise ReadOnlyTokenError("This API token is read-only; it cannot request a recharge.")
    positive(amount)
    if actor.user_id is None:
        raise InvalidError("Only a signed-in user can request a recharge of their own wallet.")
    reason = reason.strip()
    if not reason:
        raise InvalidError("Say why you need the recharge.", field="reason")
    request = RechargeRequest(
        user_id=actor.user_id, amount_micros=amount, reason=reason, status=ApprovalStatus.PENDING
    )
    session.add(request)
    await session.flush()
    await audit_service.record(
        session,
        actor,
        "ledger.recharge_request.create",
        target_type="recharge_request",
        target_id=request.id,
        target_label=actor.label,
        after={"amount": format_amount(amount), "status": "pending"},
        reason=reason,
    )
    return request


async def list_recharge_requests(
    session: AnySession,
    actor: Actor,
    *,
    status: str | None = None,
    mine: bool = False,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[RechargeRequest]:
    """Members see their own requests; admins, billing and auditors see all (or theirs with `mine`)."""
    require(actor, Permission.SELF)
    stmt = select(RechargeRequest)
    led = {} if mine or allows(actor, Permission.READ_ALL) else await led_groups(session, actor)
    if led:
        # a team lead: their own and their groups' members' requests
        stmt = stmt.where(
            or_(
                RechargeRequest.user_id == actor.user_id,
                RechargeRequest.user_id.in_(member_ids_in(led)),
            )
        )
    elif mine or not allows(actor, Permission.READ_ALL):
        stmt = stmt.where(RechargeRequest.user_id == actor.user_id)
    if status:
        stmt = stmt.where(RechargeRequest.status == status)
    return await paginate_by_created(session, stmt, RechargeRequest, limit=limit, cursor=cursor)


async def get_recharge_request(
    session: AnySession, actor: Actor, *, request_id: uuid.UUID
) -> RechargeRequest:
    request = await session.get(RechargeRequest, request_id)
    if request is None or not (
        allows(actor, Permission.READ_ALL)
        or request.user_id == actor.user_id
        or await _leads_requester(session, actor, request)
    ):
        raise RechargeRequestNotFoundError(
            "That recharge request does not exist.", request_id=str(request_id)
        )
    return request


async def approve_recharge_request(
    session: Session, actor: Actor, *, request_id: uuid.UUID, note: str = ""
) -> RechargeRequest:
    """Approve a member's request: recharge their wallet through the normal controls (above the
    four-eyes threshold that opens an approval for a second person). Writes an audit event."""
    scope = await scope_for(session, actor, Permission.LEDGER_APPROVE)
    request = await _locked(session, request_id)
    lead_group = None if scope.everywhere else await _lead_group(session, actor, scope, request)
    if not _pending(request, ApprovalStatus.APPROVED):
        return request
    if actor.user_id is not None and actor.user_id == request.user_id:
        raise FourEyesRequiredError("You cannot approve your own recharge request.")
    if lead_group is None:
        outcome = await recharge(
            session,
            actor,
            user_id=request.user_id,
            amount=request.amount_micros,
            memo=f"Recharge request: {request.reason}",
            idempotency_key=f"request:{request.id}",
        )
    else:
        # a team lead pays from the group's budget (its wallet), never from new money
        outcome = await transfer(
            session,
            actor,
            from_group_id=lead_group,
            to_user_id=request.user_id,
            amount=request.amount_micros,
            memo=f"Recharge request: {request.reason}",
            idempotency_key=f"request:{request.id}",
        )
    request.transaction_id = outcome.transaction.id if outcome.transaction else None
    request.approval_id = outcome.approval.id if outcome.approval else None
    return await _decide(
        session, actor, request, ApprovalStatus.APPROVED, note=note, outcome=outcome.status
    )


async def reject_recharge_request(
    session: Session, actor: Actor, *, request_id: uuid.UUID, note: str = ""
) -> RechargeRequest:
    """Reject a member's request with a note they will see. Writes an audit event."""
    scope = await scope_for(session, actor, Permission.LEDGER_APPROVE)
    request = await _locked(session, request_id)
    if not scope.everywhere:
        await _lead_group(session, actor, scope, request)
    if not _pending(request, ApprovalStatus.REJECTED):
        return request
    return await _decide(session, actor, request, ApprovalStatus.REJECTED, note=note)


_VERBS = {ApprovalStatus.APPROVED: "approve", ApprovalStatus.REJECTED: "reject"}


def _pending(request: RechargeRequest, to: ApprovalStatus) -> bool:
    """Whether the request still waits for a decision: False when it already has `to` (a replay
    changes nothing); any other decision refuses."""
    if request.status == to:
        return False
    if request.status != ApprovalStatus.PENDING:
        raise RechargeRequestNotPendingError(
            f"This request was already {request.status}.", status=request.status
        )
    return True


async def _decide(
    session: Session,
    actor: Actor,
    request: RechargeRequest,
    to: ApprovalStatus,
    *,
    note: str,
    **after: str,
) -> RechargeRequest:
    """Record the decision `to` on the request and audit it."""
    request.status = to
    request.decided_by_label = actor.label
    request.decided_at = utc_now()
    request.decision_note = note
    await session.flush()
    await audit_service.record(
        session,
        actor,
        f"ledger.recharge_request.{_VERBS[to]}",
        target_type="recharge_request",
        target_id=request.id,
        before={"status": "pending"},
        after={"status": str(to), **after},
        note=note,
    )
    return request


async def _requester(session: AnySession, request: RechargeRequest) -> User | None:
    return (await users_service.users_by_id(session, [request.user_id])).get(request.user_id)


async def _leads_requester(session: AnySession, actor: Actor, request: RechargeRequest) -> bool:
    led = await led_groups(session, actor)
    if not led:
        return False
    scope = Scope(groups=frozenset(led), limits=led)
    requester = await _requester(session, request)
    return requester is not None and bool(await lead_groups_over(session, scope, requester, actor))


async def _lead_group(
    session: AnySession, actor: Actor, scope: Scope, request: RechargeRequest
) -> uuid.UUID:
    """The group whose wallet pays when a team lead approves: the requester's primary group
    when the actor leads it, else another group of theirs the actor leads (the role's refusal
    for anyone else's request)."""
    requester = await _requester(session, request)
    groups = await lead_groups_over(session, scope, requester, actor) if requester else set()
    if requester is None or not groups:
        raise deny(actor, Permission.LEDGER_APPROVE)
    return requester.group_id if requester.group_id in groups else min(groups, key=str)


async def _locked(session: Session, request_id: uuid.UUID) -> RechargeRequest:
    request = await repo.lock_request(session, request_id)
    if request is None:
        raise RechargeRequestNotFoundError(
            "That recharge request does not exist.", request_id=str(request_id)
        )
    return request
