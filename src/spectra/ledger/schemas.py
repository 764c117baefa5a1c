"""Ledger input and output shapes shared by the API and the CLI: money as exact decimal strings
with `<name>_micros` integers beside them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import AliasChoices, AliasPath, BaseModel, Field, model_validator

from spectra.kit.schema import AmountIn, AmountOut, ReadModel, SignedAmountIn, money_pair, renamed


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


class PostingRead(ReadModel):
    account_id: uuid.UUID
    amount: AmountOut = money_pair("amount")
    amount_micros: int


class TransactionRead(ReadModel):
    id: uuid.UUID
    kind: str
    memo: str
    metadata: dict[str, Any] | None = renamed("meta", "metadata")
    actor_kind: str
    actor_label: str
    reverses_id: uuid.UUID | None
    idempotency_key: str
    created_at: datetime
    postings: list[PostingRead]


class AccountRead(ReadModel):
    id: uuid.UUID
    kind: str
    owner_id: uuid.UUID | None
    balance: AmountOut = money_pair("balance")
    balance_micros: int


class RechargeRead(ReadModel):
    """From a `RechargeOutcome`."""

    status: str
    """`credited` or `pending_approval`."""
    account: AccountRead
    transaction: TransactionRead | None = None
    approval_id: uuid.UUID | None = Field(
        default=None, validation_alias=AliasChoices(AliasPath("approval", "id"), "approval_id")
    )


class ApprovalRead(ReadModel):
    id: uuid.UUID
    operation: str
    """`recharge`, `adjust`, `transfer` or `refund`."""
    reason: str | None
    """Why it waits: `over_threshold`, `own_wallet` or `split`."""
    account_id: uuid.UUID
    amount: AmountOut = money_pair("amount")
    amount_micros: int
    memo: str
    status: str
    requested_by: str = renamed("requested_by_label", "requested_by")
    decided_by: str | None = renamed("decided_by_label", "decided_by")
    decided_by_credential: str | None
    """The approver's credential provenance when deciding: `self`, `local`, ..."""
    decided_at: datetime | None
    decision_note: str
    transaction_id: uuid.UUID | None
    created_at: datetime


class PendingRead(ReadModel):
    """An operation that waits for a second, independent approver (`ledger approvals`); from the
    `RechargeApproval` row."""

    # The row's own `status` is `pending`; this answer always says `pending_approval`.
    status: str = Field(default="pending_approval", validation_alias="answer_status")
    approval_id: uuid.UUID = renamed("id", "approval_id")
    operation: str
    reason: str | None
    amount: AmountOut = money_pair("amount")
    amount_micros: int


class RechargeRequestRead(ReadModel):
    id: uuid.UUID
    user_id: uuid.UUID
    amount: AmountOut = money_pair("amount")
    amount_micros: int
    reason: str
    status: str
    decided_by: str | None = renamed("decided_by_label", "decided_by")
    decided_at: datetime | None
    decision_note: str
    transaction_id: uuid.UUID | None
    approval_id: uuid.UUID | None
    created_at: datetime


class BatchRead(ReadModel):
    id: uuid.UUID
    count: int
    value: AmountOut = money_pair("value")
    value_micros: int
    expires_at: datetime | None
    memo: str
    created_by: str = renamed("created_by_label", "created_by")
    created_at: datetime
    redeemed: int | None = None
    unused: int | None = None
    revoked: int | None = None
    expired: int | None = None


class BatchCreated(BatchRead):
    codes: list[str]
    """Shown once; Spectra keeps only keyed hashes."""


class BatchRevoked(ReadModel):
    batch_id: uuid.UUID
    revoked: int
    """How many codes this call revoked."""


class ThresholdRead(ReadModel):
    account_id: uuid.UUID
    threshold: AmountOut | None = money_pair("threshold")
    threshold_micros: int | None


class NoticeRead(ReadModel):
    id: uuid.UUID
    account_id: uuid.UUID
    threshold: AmountOut = money_pair("threshold")
    threshold_micros: int
    balance: AmountOut = money_pair("balance")
    balance_micros: int
    delivery: str
    attempts: int
    created_at: datetime


class DisagreementRead(ReadModel):
    check: str
    subject: str
    message: str


class VerifyRead(ReadModel):
    ok: bool
    accounts: int
    transactions: int
    postings: int
    problems: list[DisagreementRead]
