"""The one four-eyes rule for money, and the pending approvals it opens.

Money that is created (recharges, adjustment credits, refunds, code batches), or moved toward
the actor's own wallet or group, above a threshold, or split to stay under one (the actor's
created amounts within a rolling window add up), needs a second, independent approver. Every
money operation asks `approval_rule` before it writes; an operation that must wait is stored
as a pending approval and applied, as the approver, when approved (approvals.py).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor, ActorKind
from spectra.db.session import AnySession, Session
from spectra.kit.clock import utc_now
from spectra.kit.money import format_amount
from spectra.ledger import repository as repo
from spectra.ledger.errors import (
    FourEyesRequiredError,
    IdempotencyConflictError,
    RechargeLimitExceededError,
)
from spectra.ledger.models import (
    AccountKind,
    ApprovalOperation,
    ApprovalStatus,
    LedgerAccount,
    LedgerTransaction,
    RechargeApproval,
)

from ._common import replayed, workspace_settings


@dataclass(frozen=True, slots=True)
class RechargeOutcome:
    """Either the operation was written (`transaction`) or it waits for a second approver
    (`approval`). `account` is the account credited (a refund's first)."""

    account: LedgerAccount
    transaction: LedgerTransaction | None = None
    approval: RechargeApproval | None = None

    @property
    def status(self) -> str:
        return "credited" if self.transaction is not None else "pending_approval"


def scoped_key(actor: Actor, operation: str, key: str) -> str:
    """The idempotency key as stored: scoped to the operation and to the actor who supplied it,
    so another actor's same key is an independent request, never a replay of this one."""
    who = hashlib.sha256(f"{actor.kind}:{actor.identity}".encode()).hexdigest()[:16]
    return f"{operation}:{who}:{key}"


async def approval_rule(
    session: AnySession,
    actor: Actor,
    *,
    amount: int,
    creates: bool,
    targets: Sequence[LedgerAccount] = (),
    capped: bool = False,
) -> str | None:
    """Why this operation must wait for a second approver, or None when it may be written now.

    `creates`: the amount enters circulation (from funding, adjustments or usage expense).
    `targets`: the accounts credited, to tell money moving toward the actor's wallet or group. `capped`: `max_recharge` refuses a larger amount outright.
    Jobs and the gateway are not asked (they follow the catalog and metered usage)."""
    if actor.kind in (ActorKind.SYSTEM, ActorKind.GATEWAY):
        return None
    ws = await workspace_settings(session)
    if capped and ws.max_recharge_micros is not None and amount > ws.max_recharge_micros:
        raise RechargeLimitExceededError(
            f"One operation may create at most {format_amount(ws.max_recharge_micros)} "
            f"{ws.currency}; ask an owner to raise max_recharge.",
            max_micros=ws.max_recharge_micros,
            amount_micros=amount,
        )
    own = ws.four_eyes_self_threshold_micros
    if own is not None and amount > own and await _toward(session, actor, targets):
        return "own_wallet"
    threshold = ws.four_eyes_threshold_micros
    if not creates or threshold is None:
        return None
    if amount > threshold:
        return "over_threshold"
    since = utc_now() - timedelta(hours=ws.four_eyes_window_hours)
    recent = await repo.created_by_actor_since(
        session,
        user_id=actor.user_id,
        label=actor.label,
        since=since,
        sources=[AccountKind.FUNDING, AccountKind.ADJUSTMENTS, AccountKind.USAGE_EXPENSE],
    )
    if recent + amount > threshold:
        return "split"
    return None


async def refuse_own_gain(
    session: AnySession,
    actor: Actor,
    *,
    amount: int,
    user_id: uuid.UUID | None,
    why: str,
    by: uuid.UUID | None = None,
) -> None:
    """Refuse (`four_eyes_required`, `own_wallet`) `amount` reaching user `user_id` by a path that
    cannot wait for an approver (a code the actor issued and now redeems, a package allowance the
    actor gives themselves) when that is money toward the actor above `four_eyes_self_threshold`.
    `why` is the first sentence of the refusal. `by`: whose decision the gain follows, when not
    the actor's (a group default set earlier, applied by `system` when its setter joins)."""
    decided_by = by or actor.user_id
    if decided_by is None or decided_by != user_id:
        return
    own = (await workspace_settings(session)).four_eyes_self_threshold_micros
    if own is not None and amount > own:
        raise FourEyesRequiredError(
            f"{why} It would give you {format_amount(amount)} without a second approver; "
            "ask another admin.",
            reason="own_wallet",
        )


async def _toward(
    session: AnySession,
    actor: Actor,
    targets: Sequence[LedgerAccount],
) -> bool:
    if actor.user_id is None:
        return False
    me = await repo.get_user(session, actor.user_id)
    for account in targets:
        if account.kind == AccountKind.USER_WALLET and account.owner_id == actor.user_id:
            return True
        if (
            account.kind == AccountKind.GROUP_WALLET
            and me is not None
            and account.owner_id == me.group_id
        ):
            return True
    return False


async def hold_for_approval(
    session: Session,
    actor: Actor,
    *,
    operation: ApprovalOperation,
    account: LedgerAccount,
    amount: int,
    memo: str,
    key: str,
    creates: bool,
    targets: Sequence[LedgerAccount],
    capped: bool = False,
    payload: dict[str, Any] | None = None,
    same_account: bool = True,
) -> RechargeOutcome | None:
    """The approval this operation waits for: one opened earlier under the same `key`, or a new
    one when `approval_rule` says so. None when it may be written now (or `key` was written)."""
    pending = await pending_by_key(
        session, key, account_id=account.id if same_account else None, amount=amount
    )
    if pending is not None:
        return RechargeOutcome(account=account, approval=pending)
    if await replayed(session, key) is not None:
        return None
    why = await approval_rule(
        session, actor, amount=amount, creates=creates, targets=targets, capped=capped
    )
    if why is None:
        return None
    approval = await open_approval(
        session,
        actor,
        operation=operation,
        account=account,
        amount=amount,
        memo=memo,
        key=key,
        reason=why,
        payload=payload or {},
    )
    return RechargeOutcome(account=account, approval=approval)


async def pending_by_key(
    session: AnySession, key: str, *, account_id: uuid.UUID | None, amount: int
) -> RechargeApproval | None:
    """The approval already opened under `key`, if any; a different request under the same key
    is an `idempotency_conflict`."""
    stmt = select(RechargeApproval).where(RechargeApproval.idempotency_key == key)
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is not None and (
        found.amount_micros != amount or (account_id is not None and found.account_id != account_id)
    ):
        raise IdempotencyConflictError(
            "This idempotency key was already used for a different request.",
            idempotency_key=key,
        )
    return found


async def open_approval(
    session: Session,
    actor: Actor,
    *,
    operation: ApprovalOperation,
    account: LedgerAccount,
    amount: int,
    memo: str,
    key: str,
    reason: str,
    payload: dict[str, Any],
) -> RechargeApproval:
    """Store the operation as pending, to be applied when a second, independent approver
    approves it. Writes an audit event naming the requester and why it waits."""
    approval = RechargeApproval(
        account_id=account.id,
        amount_micros=amount,
        memo=memo,
        idempotency_key=key,
        status=ApprovalStatus.PENDING,
        requested_by_identity=actor.identity,
        requested_by_label=actor.label,
        requested_by_user_id=actor.user_id,
        operation=operation,
        payload=payload,
        reason=reason,
    )
    session.add(approval)
    await session.flush()
    await audit_service.record(
        session,
        actor,
        f"ledger.{operation}.request_approval",
        target_type="ledger_account",
        target_id=account.id,
        target_label=f"{account.kind}:{account.owner_id}" if account.owner_id else account.kind,
        after={"amount": format_amount(amount), "status": "pending"},
        approval_id=str(approval.id),
        reason=reason,
        memo=memo,
    )
    return approval


async def credit_waits(
    session: Session,
    actor: Actor,
    *,
    wallet: LedgerAccount,
    amount: int,
    operation: ApprovalOperation,
    key: str,
    memo: str,
) -> RechargeOutcome | None:
    """`hold_for_approval` for money created into one wallet (a recharge, a credit adjustment),
    capped by the largest recharge."""
    return await hold_for_approval(
        session,
        actor,
        operation=operation,
        account=wallet,
        amount=amount,
        memo=memo,
        key=key,
        creates=True,
        targets=[wallet],
        capped=True,
    )
