"""The keys domain's service functions: member keys and admin API tokens, issued through one
shared step (`_common.issue`). `from spectra.keys import service as keys_service`."""

from __future__ import annotations

from .member_keys import (
    DEFAULT_ROTATION_GRACE,
    KEY_CHANGE,
    KEY_STATUSES,
    MAX_ROTATION_GRACE,
    UNSET,
    authenticate_key,
    create_key,
    find_key,
    get_key,
    list_keys,
    revoke_key,
    rotate_key,
    update_key,
)
from .tokens import authenticate_token, create_token, list_tokens, revoke_token

__all__ = [
    "DEFAULT_ROTATION_GRACE",
    "KEY_CHANGE",
    "KEY_STATUSES",
    "MAX_ROTATION_GRACE",
    "UNSET",
    "authenticate_key",
    "authenticate_token",
    "create_key",
    "create_token",
    "find_key",
    "get_key",
    "list_keys",
    "list_tokens",
    "revoke_key",
    "revoke_token",
    "rotate_key",
    "update_key",
]
