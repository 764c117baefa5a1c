"""REST: balances, transactions, recharges, approvals, recharge requests, adjustments, transfers,
refunds, low-balance thresholds and notices, verify. Parse, call one service, shape the answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from spectra.api.deps import ActorDep, IdempotencyHeader, ReadSessionDep, SessionDep
from spectra.api.routing import decision_routes
from spectra.audit.actor import Actor
from spectra.kit.ids import uuid7
from spectra.kit.pagination import ListResource
from spectra.ledger import service as ledger_service
from spectra.ledger.errors import WalletRefInvalidError
from spectra.ledger.schemas import (
    AccountRead,
    AdjustmentCreate,
    ApprovalRead,
    NoticeRead,
    PendingRead,
    RechargeCreate,
    RechargeRead,
    RechargeRequestCreate,
    RechargeRequestRead,
    RefundCreate,
    ThresholdRead,
    ThresholdSet,
    TransactionRead,
    TransferCreate,
    VerifyRead,
    WalletRef,
)

router = APIRouter(prefix="/ledger", tags=["ledger"])

Limit = Annotated[int | None, Query(ge=1, le=500)]


_PENDING: dict[int | str, dict[str, Any]] = {
    202: {"model": PendingRead, "description": "Waits for a second approver."}
}


def _answer(outcome: ledger_service.RechargeOutcome) -> Any:
    """The transaction written (201), or the approval it waits for (202)."""
    if outcome.transaction is not None:
        return TransactionRead.model_validate(outcome.transaction)
    assert outcome.approval is not None
    return JSONResponse(PendingRead.model_validate(outcome.approval).model_dump(mode="json"), 202)


def _key(header: str | None, body: str | None) -> str:
    return header or body or str(uuid7())


async def _owner(session: Any, actor: Actor, ref: WalletRef) -> dict[str, uuid.UUID | None]:
    """The wallet owner named by `ref` (an unknown name is a 403 to those who may not read all)."""
    user_id, group_id = await ledger_service.resolve_owner(
        session,
        actor,
        user_email=ref.user_email,
        group_name=ref.group_name,
        user_id=ref.user_id,
        group_id=ref.group_id,
    )
    return {"user_id": user_id, "group_id": group_id}


@router.get("/balance")
async def get_balance(
    session: ReadSessionDep,
    actor: ActorDep,
    user_id: uuid.UUID | None = None,
    user_email: str | None = None,
    group_id: uuid.UUID | None = None,
    group_name: str | None = None,
) -> AccountRead:
    """A wallet's balance (your own when nothing is named)."""
    if not any((user_id, user_email, group_id, group_name)):
        user_id = actor.user_id
    try:
        ref = WalletRef(
            user_id=user_id, user_email=user_email, group_id=group_id, group_name=group_name
        )
    except ValidationError:
        raise WalletRefInvalidError(
            "Name exactly one wallet: a user (user_id or user_email) or a group (group_id or group_name)."
        ) from None
    return AccountRead.model_validate(
        await ledger_service.get_wallet(session, actor, **await _owner(session, actor, ref))
    )


@router.get("/transactions")
async def list_transactions(
    session: ReadSessionDep,
    actor: ActorDep,
    user_id: uuid.UUID | None = None,
    group_id: uuid.UUID | None = None,
    account_id: uuid.UUID | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Limit = None,
    cursor: str | None = None,
) -> ListResource[TransactionRead]:
    page = await ledger_service.list_transactions(
        session,
        actor,
        user_id=user_id,
        group_id=group_id,
        account_id=account_id,
        kind=kind,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )
    return ListResource[TransactionRead].model_validate(page)


@router.get("/transactions/{transaction_id}")
async def get_transaction(
    transaction_id: uuid.UUID, session: ReadSessionDep, actor: ActorDep
) -> TransactionRead:
    return TransactionRead.model_validate(
        await ledger_service.get_transaction(session, actor, transaction_id=transaction_id)
    )


@router.post("/recharges", status_code=201)
async def create_recharge(
    body: RechargeCreate,
    session: SessionDep,
    actor: ActorDep,
    idempotency_key: IdempotencyHeader = None,
) -> RechargeRead:
    """Credit a wallet; above the four-eyes threshold the answer is `pending_approval`."""
    await ledger_service.check_currency(session, body.currency)
    outcome = await ledger_service.recharge(
        session,
        actor,
        **await _owner(session, actor, body),
        amount=body.amount,
        memo=body.memo,
        idempotency_key=_key(idempotency_key, body.idempotency_key),
    )
    return RechargeRead.model_validate(outcome)


@router.get("/approvals")
async def list_approvals(
    session: ReadSessionDep,
    actor: ActorDep,
    status: str | None = None,
    limit: Limit = None,
    cursor: str | None = None,
) -> ListResource[ApprovalRead]:
    page = await ledger_service.list_approvals(
        session, actor, status=status, limit=limit, cursor=cursor
    )
    return ListResource[ApprovalRead].model_validate(page)


decision_routes(
    router,
    "/approvals/{approval_id}",
    ApprovalRead,
    name="recharge",
    approve=ledger_service.approve_recharge,
    reject=ledger_service.reject_recharge,
)


@router.post("/recharge-requests", status_code=201)
async def create_recharge_request(
    body: RechargeRequestCreate, session: SessionDep, actor: ActorDep
) -> RechargeRequestRead:
    """A member asks for a recharge of their own wallet."""
    await ledger_service.check_currency(session, body.currency)
    request = await ledger_service.create_recharge_request(
        session, actor, amount=body.amount, reason=body.reason
    )
    return RechargeRequestRead.model_validate(request)


@router.get("/recharge-requests")
async def list_recharge_requests(
    session: ReadSessionDep,
    actor: ActorDep,
    status: str | None = None,
    mine: bool = False,
    limit: Limit = None,
    cursor: str | None = None,
) -> ListResource[RechargeRequestRead]:
    page = await ledger_service.list_recharge_requests(
        session, actor, status=status, mine=mine, limit=limit, cursor=cursor
    )
    return ListResource[RechargeRequestRead].model_validate(page)


@router.get("/recharge-requests/{request_id}")
async def get_recharge_request(
    request_id: uuid.UUID, session: ReadSessionDep, actor: ActorDep
) -> RechargeRequestRead:
    return RechargeRequestRead.model_validate(
        await ledger_service.get_recharge_request(session, actor, request_id=request_id)
    )


decision_routes(
    router,
    "/recharge-requests/{request_id}",
    RechargeRequestRead,
    name="recharge_request",
    approve=ledger_service.approve_recharge_request,
    reject=ledger_service.reject_recharge_request,
)


@router.post("/adjustments", status_code=201, response_model=TransactionRead, responses=_PENDING)
async def create_adjustment(
    body: AdjustmentCreate,
    session: SessionDep,
    actor: ActorDep,
    idempotency_key: IdempotencyHeader = None,
) -> Any:
    await ledger_service.check_currency(session, body.currency)
    outcome = await ledger_service.adjust(
        session,
        actor,
        **await _owner(session, actor, body),
        amount=body.amount,
        reason=body.reason,
        idempotency_key=_key(idempotency_key, body.idempotency_key),
    )
    return _answer(outcome)


@router.post("/transfers", status_code=201, response_model=TransactionRead, responses=_PENDING)
async def create_transfer(
    body: TransferCreate,
    session: SessionDep,
    actor: ActorDep,
    idempotency_key: IdempotencyHeader = None,
) -> Any:
    await ledger_service.check_currency(session, body.currency)
    source = await _owner(session, actor, body.source)
    target = await _owner(session, actor, body.target)
    outcome = await ledger_service.transfer(
        session,
        actor,
        from_user_id=source["user_id"],
        from_group_id=source["group_id"],
        to_user_id=target["user_id"],
        to_group_id=target["group_id"],
        amount=body.amount,
        memo=body.memo,
        idempotency_key=_key(idempotency_key, body.idempotency_key),
    )
    return _answer(outcome)


@router.post("/refunds", status_code=201, response_model=TransactionRead, responses=_PENDING)
async def create_refund(
    body: RefundCreate,
    session: SessionDep,
    actor: ActorDep,
    idempotency_key: IdempotencyHeader = None,
) -> Any:
    await ledger_service.check_currency(session, body.currency)
    outcome = await ledger_service.refund(
        session,
        actor,
        transaction_id=body.transaction_id,
        amount=body.amount,
        reason=body.reason,
        idempotency_key=_key(idempotency_key, body.idempotency_key),
    )
    return _answer(outcome)


@router.put("/thresholds")
async def set_threshold(body: ThresholdSet, session: SessionDep, actor: ActorDep) -> ThresholdRead:
    await ledger_service.check_currency(session, body.currency)
    row = await ledger_service.set_low_balance_threshold(
        session, actor, **await _owner(session, actor, body), threshold=body.threshold
    )
    return ThresholdRead.model_validate(row)


@router.get("/notices")
async def list_notices(
    session: ReadSessionDep, actor: ActorDep, limit: Limit = None, cursor: str | None = None
) -> ListResource[NoticeRead]:
    page = await ledger_service.list_notices(session, actor, limit=limit, cursor=cursor)
    return ListResource[NoticeRead].model_validate(page)


@router.get("/verify")
async def verify(session: ReadSessionDep, actor: ActorDep) -> VerifyRead:
    """Recompute every balance from postings and check every ledger invariant."""
    return VerifyRead.model_validate(await ledger_service.verify(session, actor))
