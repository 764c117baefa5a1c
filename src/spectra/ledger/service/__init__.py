"""The ledger's service layer, one module per topic; import it as `ledger_service`.

from spectra.db.session import AnySession
from spectra.ledger import service as ledger_service
await ledger_service.post(session, actor, kind=..., postings=[...], idempotency_key=...)
"""

from __future__ import annotations

from spectra.audit.actor import Actor
from spectra.db.session import AnySession
from spectra.ledger.holds import BalanceView, Hold, InProcessBalanceView, LedgerTransactionSpec
from spectra.ledger.models import AccountKind, LedgerAccount, LedgerTransaction, TransactionKind
from spectra.ledger.verify import VerifyReport, verify_ledger
from spectra.users.permissions import Permission, require

from ._common import check_currency
from .accounts import (
    balance,
    get_account,
    get_balances,
    get_or_create_account,
    get_transaction,
    get_wallet,
    list_transactions,
    resolve_owner,
    user_wallet_owners,
    wallet_account,
)
from .approvals import approve_recharge, get_approval, list_approvals, reject_recharge
from .codes import BatchSummary, CreatedBatch, create_codes, list_batches, redeem_code, revoke_codes
from .four_eyes import RechargeOutcome, approval_rule, refuse_own_gain, scoped_key
from .post import BALANCE_CHANGE, post, post_spec
from .post_batch import PostedSpec, post_specs
from .recharge import recharge, recharge_would_wait
from .refund import refund
from .requests import (
    approve_recharge_request,
    create_recharge_request,
    get_recharge_request,
    list_recharge_requests,
    reject_recharge_request,
)
from .thresholds import list_notices, set_low_balance_threshold
from .transfer import adjust, transfer


async def verify(session: AnySession, actor: Actor) -> VerifyReport:
    """Recompute balances from postings and check every ledger invariant (read-only)."""
    require(actor, Permission.READ_ALL)
    return await verify_ledger(session)


__all__ = [
    "BALANCE_CHANGE",
    "AccountKind",
    "BalanceView",
    "BatchSummary",
    "CreatedBatch",
    "Hold",
    "InProcessBalanceView",
    "LedgerAccount",
    "LedgerTransaction",
    "LedgerTransactionSpec",
    "PostedSpec",
    "RechargeOutcome",
    "TransactionKind",
    "VerifyReport",
    "adjust",
    "approval_rule",
    "approve_recharge",
    "approve_recharge_request",
    "balance",
    "check_currency",
    "create_codes",
    "create_recharge_request",
    "get_account",
    "get_approval",
    "get_balances",
    "get_or_create_account",
    "get_recharge_request",
    "get_transaction",
    "get_wallet",
    "list_approvals",
    "list_batches",
    "list_notices",
    "list_recharge_requests",
    "list_transactions",
    "post",
    "post_spec",
    "post_specs",
    "recharge",
    "recharge_would_wait",
    "redeem_code",
    "refund",
    "refuse_own_gain",
    "reject_recharge",
    "reject_recharge_request",
    "resolve_owner",
    "revoke_codes",
    "scoped_key",
    "set_low_balance_threshold",
    "transfer",
    "user_wallet_owners",
    "verify",
    "wallet_account",
]
