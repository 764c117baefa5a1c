"""Ledger input and output shapes shared by the API and the CLI: money as exact decimal strings
with `<name>_micros` integers beside them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator

from spectra.kit.schema import AmountIn, AmountOut, SignedAmountIn
from spectra.ledger.models import LedgerAccount, LedgerTransaction


class WalletRef(BaseModel):
    """A wallet named by user (id or email) or group (id or name)."""

    user_id: uuid.UUID | None = None
    user_email: str | None = None
    group_id: uuid.UUID | None = None
    group_name: str | None = None

    @model_validator(mode="after")
    def _one(self) -> WalletRef:
        named = [self.user_id or self.user_email, self.group_id or self.group_name]
        if sum(1 for n in named if n) != 1:
            raise ValueError(
                "name exactly one of a user (user_id or user_email) or a group (group_id or group_name)"
            )
        return self


class CurrencyIn(BaseModel):
    """An optional currency beside an amount: when given it must be the workspace's (checked by
    `ledger_service.check_currency`); nothing is ever converted."""

    currency: str | None = Field(default=None, max_length=16)


class RechargeCreate(WalletRef, CurrencyIn):
    amount: AmountIn
    memo: str = Field(min_length=1, max_length=1000)
    idempotency_key: str | None = Field(default=None, max_length=150)


class AdjustmentCreate(WalletRef, CurrencyIn):
    amount: SignedAmountIn
    reason: str = Field(min_length=1, max_length=1000)
    idempotency_key: str | None = Field(default=None, max_length=150)


class TransferCreate(CurrencyIn):
    source: WalletRef
    target: WalletRef
    amount: AmountIn
    memo: str = Field(min_length=1, max_length=1000)
    idempotency_key: str | None = Field(default=None, max_length=150)


class RefundCreate(CurrencyIn):
    transaction_id: uuid.UUID
    amount: AmountIn | None = None
    reason: str = Field(min_length=1, max_length=1000)
    idempotency_key: str | None = Field(default=None, max_length=150)


class RechargeRequestCreate(CurrencyIn):
    amount: AmountIn
    reason: str = Field(min_length=1, max_length=1000)


class Decision(BaseModel):
    note: str = Field(default="", max_length=1000)


class ThresholdSet(WalletRef, CurrencyIn):
    threshold: AmountIn | None = None


class CodesCreate(CurrencyIn):
    count: int = Field(ge=1, le=10_000)
    amount: AmountIn
    expires_at: datetime | None = None
    memo: str = Field(default="", max_length=1000)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=150)
    """A retry with the same key creates nothing (`codes_already_issued`)."""


class CodeRedeem(BaseModel):
    code: str = Field(min_length=4, max_length=64)


class CodesRevoke(BaseModel):
    code_ids: list[uuid.UUID] | None = None


class PostingRead(BaseModel):
    account_id: uuid.UUID
    amount: AmountOut
    amount_micros: int


class TransactionRead(BaseModel):
    id: uuid.UUID
    kind: str
    memo: str
    metadata: dict[str, Any] | None
    actor_kind: str
    actor_label: str
    reverses_id: uuid.UUID | None
    idempotency_key: str
    created_at: datetime
    postings: list[PostingRead]

    @classmethod
    def of(cls, txn: LedgerTransaction) -> TransactionRead:
        return cls(
            id=txn.id,
            kind=txn.kind,
            memo=txn.memo,
            metadata=txn.meta,
            actor_kind=txn.actor_kind,
            actor_label=txn.actor_label,
            reverses_id=txn.reverses_id,
            idempotency_key=txn.idempotency_key,
            created_at=txn.created_at,
            postings=[
                PostingRead(
                    account_id=p.account_id, amount=p.amount_micros, amount_micros=p.amount_micros
                )
                for p in txn.postings
            ],
        )


class AccountRead(BaseModel):
    id: uuid.UUID
    kind: str
    owner_id: uuid.UUID | None
    balance: AmountOut
    balance_micros: int

    @classmethod
    def of(cls, account: LedgerAccount) -> AccountRead:
        return cls(
            id=account.id,
            kind=account.kind,
            owner_id=account.owner_id,
            balance=account.balance_micros,
            balance_micros=account.balance_micros,
        )


class RechargeRead(BaseModel):
    status: str
    """`credited` or `pending_approval`."""
    account: AccountRead
    transaction: TransactionRead | None = None
    approval_id: uuid.UUID | None = None


class ApprovalRead(BaseModel):
    id: uuid.UUID
    operation: str
    """`recharge`, `adjust`, `transfer` or `refund`."""
    reason: str | None
    """Why it waits: `over_threshold`, `own_wallet` or `split`."""
    account_id: uuid.UUID
    amount: AmountOut
    amount_micros: int
    memo: str
    status: str
    requested_by: str
    decided_by: str | None
    decided_by_credential: str | None
    """The approver's credential provenance when deciding: `self`, `local`, ..."""
    decided_at: datetime | None
    decision_note: str
    transaction_id: uuid.UUID | None
    created_at: datetime


class PendingRead(BaseModel):
    """An operation that waits for a second, independent approver (`ledger approvals`)."""

    status: str = "pending_approval"
    approval_id: uuid.UUID
    operation: str
    reason: str | None
    amount: AmountOut
    amount_micros: int


class RechargeRequestRead(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    amount: AmountOut
    amount_micros: int
    reason: str
    status: str
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str
    transaction_id: uuid.UUID | None
    approval_id: uuid.UUID | None
    created_at: datetime


class BatchRead(BaseModel):
    id: uuid.UUID
    count: int
    value: AmountOut
    value_micros: int
    expires_at: datetime | None
    memo: str
    created_by: str
    created_at: datetime
    redeemed: int | None = None
    unused: int | None = None
    revoked: int | None = None
    expired: int | None = None


class BatchCreated(BatchRead):
    codes: list[str]
    """Shown once; Spectra keeps only keyed hashes."""


class NoticeRead(BaseModel):
    id: uuid.UUID
    account_id: uuid.UUID
    threshold: AmountOut
    threshold_micros: int
    balance: AmountOut
    balance_micros: int
    delivery: str
    attempts: int
    created_at: datetime


class DisagreementRead(BaseModel):
    check: str
    subject: str
    message: str


class VerifyRead(BaseModel):
    ok: bool
    accounts: int
    transactions: int
    postings: int
    problems: list[DisagreementRead]


def approval_read(a: Any) -> ApprovalRead:
    return ApprovalRead(
        id=a.id,
        operation=a.operation,
        reason=a.reason,
        account_id=a.account_id,
        amount=a.amount_micros,
        amount_micros=a.amount_micros,
        memo=a.memo,
        status=a.status,
        requested_by=a.requested_by_label,
        decided_by=a.decided_by_label,
        decided_by_credential=a.decided_by_credential,
        decided_at=a.decided_at,
        decision_note=a.decision_note,
        transaction_id=a.transaction_id,
        created_at=a.created_at,
    )


def pending_read(a: Any) -> PendingRead:
    return PendingRead(
        approval_id=a.id,
        operation=a.operation,
        reason=a.reason,
        amount=a.amount_micros,
        amount_micros=a.amount_micros,
    )


def outcome_read(outcome: Any) -> dict[str, Any]:
    """A written transaction, or the approval the operation waits for, as JSON."""
    if outcome.transaction is not None:
        return TransactionRead.of(outcome.transaction).model_dump(mode="json")
    return pending_read(outcome.approval).model_dump(mode="json")


def request_read(r: Any) -> RechargeRequestRead:
    return RechargeRequestRead(
        id=r.id,
        user_id=r.user_id,
        amount=r.amount_micros,
        amount_micros=r.amount_micros,
        reason=r.reason,
        status=r.status,
        decided_by=r.decided_by_label,
        decided_at=r.decided_at,
        decision_note=r.decision_note,
        transaction_id=r.transaction_id,
        approval_id=r.approval_id,
        created_at=r.created_at,
    )


def batch_read(b: Any, **counts: int) -> BatchRead:
    return BatchRead(
        id=b.id,
        count=b.count,
        value=b.value_micros,
        value_micros=b.value_micros,
        expires_at=b.expires_at,
        memo=b.memo,
        created_by=b.created_by_label,
        created_at=b.created_at,
        **counts,
    )


def notice_read(n: Any) -> NoticeRead:
    return NoticeRead(
        id=n.id,
        account_id=n.account_id,
        threshold=n.threshold_micros,
        threshold_micros=n.threshold_micros,
        balance=n.balance_micros,
        balance_micros=n.balance_micros,
        delivery=n.delivery,
        attempts=n.attempts,
        created_at=n.created_at,
    )


def recharge_read(outcome: Any) -> RechargeRead:
    return RechargeRead(
        status=outcome.status,
        account=AccountRead.of(outcome.account),
        transaction=TransactionRead.of(outcome.transaction) if outcome.transaction else None,
        approval_id=outcome.approval.id if outcome.approval else None,
    )


def verify_read(report: Any) -> VerifyRead:
    return VerifyRead(
        ok=report.ok,
        accounts=report.accounts,
        transactions=report.transactions,
        postings=report.postings,
        problems=[
            DisagreementRead(check=p.check, subject=p.subject, message=p.message)
            for p in report.problems
        ],
    )
