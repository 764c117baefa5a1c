"""Ledger errors: each a one-sentence refusal with a stable code."""

from __future__ import annotations

from spectra.errors import (
    AmountOutOfRangeError,
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    RateLimitedError,
    RefusedError,
    UnavailableError,
)


class UnbalancedTransactionError(InvalidError):
    code = "unbalanced_transaction"


class IdempotencyConflictError(ConflictError):
    code = "idempotency_conflict"


class AccountNotFoundError(NotFoundError):
    code = "ledger_account_not_found"


class TransactionNotFoundError(NotFoundError):
    code = "ledger_transaction_not_found"


class WalletOwnerNotFoundError(NotFoundError):
    code = "wallet_owner_not_found"


class InsufficientFundsError(RefusedError):
    code = "insufficient_funds"


class InsufficientBalanceError(ConflictError):
    code = "insufficient_balance"


class HoldNotOpenError(ConflictError):
    code = "hold_not_open"


class HoldStoreUnavailableError(UnavailableError):
    """The shared hold store (Redis) cannot answer: requests that need a hold fail closed."""

    code = "hold_store_unavailable"


class RechargeLimitExceededError(InvalidError):
    code = "recharge_limit_exceeded"


class MemoRequiredError(InvalidError):
    code = "memo_required"


class ApprovalNotFoundError(NotFoundError):
    code = "recharge_approval_not_found"


class ApprovalNotPendingError(ConflictError):
    code = "recharge_approval_not_pending"


class FourEyesRequiredError(ForbiddenError):
    code = "four_eyes_required"


class RechargeRequestNotFoundError(NotFoundError):
    code = "recharge_request_not_found"


class RechargeRequestNotPendingError(ConflictError):
    code = "recharge_request_not_pending"


class RefundNotAllowedError(ConflictError):
    code = "refund_not_allowed"


class RefundExceedsOriginalError(ConflictError):
    code = "refund_exceeds_original"


class TransferInvalidError(InvalidError):
    code = "transfer_invalid"


class CodeNotFoundError(NotFoundError):
    code = "code_not_found"


class CodeAlreadyRedeemedError(ConflictError):
    code = "code_already_redeemed"


class CodeExpiredError(ConflictError):
    code = "code_expired"


class CodeRevokedError(ConflictError):
    code = "code_revoked"


class CodesAlreadyIssuedError(ConflictError):
    """A retried batch request: the first one created the batch; its codes were shown once."""

    code = "codes_already_issued"


class CodeBatchNotFoundError(NotFoundError):
    code = "code_batch_not_found"


class RedeemRateLimitedError(RateLimitedError):
    code = "rate_limited"


class CurrencyMismatchError(InvalidError):
    """An amount named a currency that is not the workspace's: nothing is converted."""

    code = "currency_mismatch"


class WalletRefInvalidError(InvalidError):
    """A request named no wallet, or more than one (a user and a group)."""

    code = "wallet_ref_invalid"


class BalanceOutOfRangeError(AmountOutOfRangeError):
    """A posting would take a balance beyond the workspace-wide bound (kit/money.py)."""

    code = "balance_out_of_range"


class ApproverNotIndependentError(ForbiddenError):
    """The approver requested the operation, or holds a credential its requester issued."""

    code = "approver_not_independent"
