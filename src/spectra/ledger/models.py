"""Ledger tables: accounts with cached balances, transactions, postings (append-only), recharge
approvals and requests, redemption codes, low-balance thresholds and notices.

Sign convention: an account's balance is the plain sum of its postings. A wallet or an allowance
is positive when it holds money; `funding` goes negative as money enters the workspace;
`usage_expense` grows positive as members spend; `codes_outstanding` holds the value of codes
not yet redeemed or revoked.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from spectra.db.base import Base, IdMixin, TimestampMixin
from spectra.db.types import BigIntPK, MicrosType
from spectra.kit.clock import utc_now


class AccountKind(StrEnum):
    USER_WALLET = "user_wallet"
    GROUP_WALLET = "group_wallet"
    ALLOWANCE = "allowance"
    FUNDING = "funding"
    USAGE_EXPENSE = "usage_expense"
    CODES_OUTSTANDING = "codes_outstanding"
    EXPIRED_ALLOWANCE = "expired_allowance"
    ADJUSTMENTS = "adjustments"


OWNED_KINDS = frozenset({AccountKind.USER_WALLET, AccountKind.GROUP_WALLET, AccountKind.ALLOWANCE})
SINGLETON_KINDS = frozenset(set(AccountKind) - OWNED_KINDS)
WALLET_KINDS = frozenset({AccountKind.USER_WALLET, AccountKind.GROUP_WALLET})
SINGLETON_OWNER_KEY = "-"


class TransactionKind(StrEnum):
    RECHARGE = "recharge"
    REDEEM = "redeem"
    USAGE = "usage"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"
    TRANSFER = "transfer"
    GRANT = "grant"
    EXPIRE = "expire"
    CODES_ISSUE = "codes_issue"
    CODES_REVOKE = "codes_revoke"
    REVERSAL = "reversal"


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class CodeStatus(StrEnum):
    UNUSED = "unused"
    REDEEMED = "redeemed"
    REVOKED = "revoked"


class NoticeDelivery(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    SKIPPED = "skipped"


def _in(values: Any) -> str:
    return ", ".join(f"'{v}'" for v in values)


class LedgerAccount(IdMixin, TimestampMixin, Base):
    """One ledger account; `(kind, owner_key)` is unique, so each wallet and singleton exists once."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("kind", "owner_key"),
        CheckConstraint(f"kind IN ({_in(AccountKind)})", name="kind"),
    )

    kind: Mapped[str] = mapped_column(String(32))
    owner_id: Mapped[uuid.UUID | None] = mapped_column()
    """User id (user_wallet), group id (group_wallet), package assignment id (allowance); None for singletons."""
    owner_key: Mapped[str] = mapped_column(String(36))
    """`str(owner_id)`, or "-" for a singleton: the uniqueness key (NULLs are never equal in SQL)."""
    balance_micros: Mapped[int] = mapped_column(MicrosType, default=0)
    """Cached sum of this account's postings, micros; updated by deltas in the posting transaction."""


class LedgerTransaction(Base):
    """A movement of value: two or more postings that sum to zero. Never updated or deleted."""

    __tablename__ = "ledger_transactions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    memo: Mapped[str] = mapped_column(String(1000), default="")
    meta: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_label: Mapped[str] = mapped_column(String(320))
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column()
    reverses_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    """The transaction this one corrects (refund, revocation, reversal), if any."""
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    postings: Mapped[list[LedgerPosting]] = relationship(lazy="raise", order_by="LedgerPosting.id")


class LedgerPosting(Base):
    """One signed amount on one account; positive credits the account. Never updated or deleted."""

    __tablename__ = "ledger_postings"
    __table_args__ = (
        UniqueConstraint("transaction_id", "account_id"),
        CheckConstraint("amount_micros <> 0", name="nonzero"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    transaction_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_transactions.id"))
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount_micros: Mapped[int] = mapped_column(MicrosType)
    """Signed micros from this account's point of view: + credits it, - debits it."""
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class ApprovalOperation(StrEnum):
    """The money operations that may wait for a second approver (see `four_eyes.approval_rule`)."""

    RECHARGE = "recharge"
    ADJUST = "adjust"
    TRANSFER = "transfer"
    REFUND = "refund"


class RechargeApproval(IdMixin, Base):
    """A money operation (a recharge, adjustment, transfer or refund) that creates money or moves
    it toward its requester's own wallet or group above a four-eyes threshold, or splits to stay
    under one, waiting for a second, independent admin or billing user. Applied on approval."""

    __tablename__ = "ledger_recharge_approvals"
    __table_args__ = (
        CheckConstraint(f"status IN ({_in(ApprovalStatus)})", name="status"),
        CheckConstraint("amount_micros > 0", name="positive"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount_micros: Mapped[int] = mapped_column(MicrosType)
    """Micros to credit to the wallet when approved."""
    memo: Mapped[str] = mapped_column(String(1000))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    """The recharge's key: replaying the recharge finds this approval instead of opening another."""
    status: Mapped[str] = mapped_column(String(16), default=ApprovalStatus.PENDING)
    requested_by_identity: Mapped[str] = mapped_column(String(320))
    requested_by_label: Mapped[str] = mapped_column(String(320))
    decided_by_identity: Mapped[str | None] = mapped_column(String(320))
    decided_by_label: Mapped[str | None] = mapped_column(String(320))
    decided_at: Mapped[datetime | None] = mapped_column()
    decision_note: Mapped[str] = mapped_column(String(1000), default="")
    transaction_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    operation: Mapped[str] = mapped_column(
        String(16), default=ApprovalOperation.RECHARGE, server_default="recharge"
    )
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The operation's arguments (ids as strings, amounts in micros), applied on approval."""
    reason: Mapped[str | None] = mapped_column(String(32))
    """Why it waits: `over_threshold`, `own_wallet` or `split` (the rolling window)."""
    requested_by_user_id: Mapped[uuid.UUID | None] = mapped_column()
    decided_by_credential: Mapped[str | None] = mapped_column(String(400))
    """The approver's credential provenance when deciding: `self`, or `issued:<label>`."""


class RechargeRequest(IdMixin, Base):
    """A member's request for a recharge of their own wallet; an admin or billing user decides."""

    __tablename__ = "ledger_recharge_requests"
    __table_args__ = (
        CheckConstraint(f"status IN ({_in(ApprovalStatus)})", name="status"),
        CheckConstraint("amount_micros > 0", name="positive"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    amount_micros: Mapped[int] = mapped_column(MicrosType)
    """Micros the member asks for."""
    reason: Mapped[str] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(16), default=ApprovalStatus.PENDING)
    decided_by_label: Mapped[str | None] = mapped_column(String(320))
    decided_at: Mapped[datetime | None] = mapped_column()
    decision_note: Mapped[str] = mapped_column(String(1000), default="")
    transaction_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    approval_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("ledger_recharge_approvals.id")
    )
    """Set when the approved amount needs a second approval (four-eyes)."""
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class CodeBatch(IdMixin, Base):
    """A batch of redemption codes; its value moved funding -> codes_outstanding when created."""

    __tablename__ = "ledger_code_batches"
    __table_args__ = (
        CheckConstraint("value_micros > 0", name="positive"),
        CheckConstraint("count > 0", name="count"),
    )

    count: Mapped[int] = mapped_column()
    value_micros: Mapped[int] = mapped_column(MicrosType)
    """Micros each code credits."""
    expires_at: Mapped[datetime | None] = mapped_column()
    """After this instant (UTC) a code can no longer be redeemed; None = never."""
    memo: Mapped[str] = mapped_column(String(1000), default="")
    created_by_label: Mapped[str] = mapped_column(String(320))
    transaction_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_transactions.id"))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class RedemptionCode(IdMixin, Base):
    """One code: only its keyed hash is stored. Status moves unused -> redeemed | revoked, once."""

    __tablename__ = "ledger_redemption_codes"
    __table_args__ = (CheckConstraint(f"status IN ({_in(CodeStatus)})", name="status"),)

    batch_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_code_batches.id"))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(8))
    """The last four characters, to tell codes apart in lists."""
    status: Mapped[str] = mapped_column(String(16), default=CodeStatus.UNUSED)
    redeemed_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    redeemed_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    transaction_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("ledger_transactions.id"))


class LowBalanceThreshold(Base):
    """A per-wallet low-balance threshold (overrides the workspace default)."""

    __tablename__ = "ledger_low_balance_thresholds"

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_accounts.id"), primary_key=True
    )
    threshold_micros: Mapped[int | None] = mapped_column(MicrosType)
    """Micros; a notice is recorded when the balance falls below it. None = no notices for this wallet."""
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)
    updated_by: Mapped[str] = mapped_column(String(320))


class LowBalanceNotice(IdMixin, Base):
    """A wallet's balance crossed its threshold; delivered to the webhook with retries."""

    __tablename__ = "ledger_low_balance_notices"

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_accounts.id"))
    transaction_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_transactions.id"))
    threshold_micros: Mapped[int] = mapped_column(MicrosType)
    balance_micros: Mapped[int] = mapped_column(MicrosType)
    """The wallet's balance right after the crossing transaction, micros."""
    delivery: Mapped[str] = mapped_column(String(16), default=NoticeDelivery.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    delivered_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


Index("ix_ledger_postings_account_id_id", LedgerPosting.account_id, LedgerPosting.id)
Index("ix_ledger_postings_transaction_id", LedgerPosting.transaction_id)
Index("ix_ledger_transactions_created_at_id", LedgerTransaction.created_at, LedgerTransaction.id)
Index("ix_ledger_transactions_reverses_id", LedgerTransaction.reverses_id)
Index("ix_ledger_redemption_codes_batch_id", RedemptionCode.batch_id)
Index("ix_ledger_recharge_requests_user_id", RechargeRequest.user_id)
Index(
    "ix_ledger_low_balance_notices_delivery",
    LowBalanceNotice.delivery,
    LowBalanceNotice.next_attempt_at,
)
