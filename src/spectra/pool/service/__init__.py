"""The pool domain's service functions: one per admin action, used by every surface. Every
write checks permission, writes its audit event (never the credential) and a change-feed row
(`pool.account`) in the caller's transaction.

`from spectra.pool import service as pool_service`.
"""

from __future__ import annotations

from .accounts import add_account, update_account
from .lifecycle import (
    disable_account,
    due_for_probe,
    enable_account,
    record_probe,
    reset_account_state,
    test_account,
)
from .reads import (
    get_account,
    get_account_by_name,
    list_accounts,
    list_alerts,
    list_history,
    model_coverage,
    persisted_figures,
    pool_status,
)
from .rotation import rotate_credential, rotate_credential_key

__all__ = [
    "add_account",
    "disable_account",
    "due_for_probe",
    "enable_account",
    "get_account",
    "get_account_by_name",
    "list_accounts",
    "list_alerts",
    "list_history",
    "model_coverage",
    "persisted_figures",
    "pool_status",
    "record_probe",
    "reset_account_state",
    "rotate_credential",
    "rotate_credential_key",
    "test_account",
    "update_account",
]
