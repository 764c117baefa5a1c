"""The hash chain: each event's hash covers the previous hash and its own canonical JSON.

Version 2 (every event since the chain was keyed): HMAC-SHA256 under the server's audit-chain
subkey, so only a holder of the server secret can write a hash that verifies. Version 1 (events
written before, up to `AuditChainState.legacy_until`): plain SHA-256, still verified as such.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

GENESIS = "0" * 64

SECRET_FIELD_MARKERS = (
    "secret",
    "password",
    "credential",
    "api_key",
    "token_hash",
    "key_hash",
    "code_hash",
)


def canonical(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
    )


def _default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def event_payload(
    *,
    seq: int,
    occurred_at: datetime,
    actor_kind: str,
    actor_label: str,
    actor_user_id: str | None,
    action: str,
    target_type: str | None,
    target_id: str | None,
    target_label: str | None,
    before: Any,
    after: Any,
    details: Any,
    request_id: str | None,
    client_ip: str | None,
) -> dict[str, Any]:
    return {
        "seq": seq,
        "at": occurred_at.isoformat(timespec="microseconds"),
        "actor": [actor_kind, actor_label, actor_user_id],
        "action": action,
        "target": [target_type, target_id, target_label],
        "before": before,
        "after": after,
        "details": details,
        "request_id": request_id,
        "client_ip": client_ip,
    }


def chain_hash(prev_hash: str, payload: dict[str, Any], *, key: bytes | None) -> str:
    """The event's hash: HMAC-SHA256 under `key` (v2), or plain SHA-256 for a legacy event (v1)."""
    message = (prev_hash + canonical(payload)).encode()
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def scrub(value: Any) -> Any:
    """Replace any field that names a secret with a marker; secrets never enter the audit log."""
    if isinstance(value, dict):
        return {
            k: ("[redacted]" if any(m in k.lower() for m in SECRET_FIELD_MARKERS) else scrub(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
