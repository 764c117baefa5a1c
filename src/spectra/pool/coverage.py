"""Which accounts could serve a model, in which protocol, and why the others would not (pure):
the pool step of `spectra policy explain`. It follows the scheduler's rules (aliases, groups,
state, the caller's protocol first, translation only on accounts that allow it) from the
stored accounts; live limits (concurrency, RPM/TPM, spend caps) are the running gateway's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .models import PoolAccount
from .scheduler import TRANSLATION_OFF
from .state import protocols_for, snapshot_of, upstream_model
from .states import AccountState

NOT_LISTED = "model not listed"

SERVED = "served"
"""Some account can take the model now."""
UNAVAILABLE = "unavailable"
"""Accounts list it, none can take it now (the gateway answers no_account_available)."""
NOT_SERVED = "not_served"
"""No account the caller can reach lists it (the gateway answers model_not_served)."""


@dataclass(frozen=True, slots=True)
class AccountFit:
    """One account, seen from a request for the model."""

    account: str
    provider: str
    protocols: tuple[str, ...]
    """The protocols the account speaks."""
    upstream_model: str | None
    """What it would be asked for (alias mapped); None when it does not list the model."""
    usable: bool
    translated: bool
    """It would serve the caller through translation (the caller's protocol is not its own)."""
    reason: str
    """Why it would be skipped; empty when usable."""

    def as_json(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "provider": self.provider,
            "protocols": list(self.protocols),
            "upstream_model": self.upstream_model,
            "usable": self.usable,
            "translated": self.translated,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Coverage:
    model: str
    protocol: str | None
    """The caller's protocol, when known; None = any protocol."""
    verdict: str
    """`served`, `unavailable` or `not_served`."""
    accounts: tuple[AccountFit, ...]
    """Every account: the ones that could serve first, then the skipped ones."""
    served: tuple[str, ...] = ()
    """The model names and patterns the accounts the caller can reach list (for a refusal)."""


def coverage(
    accounts: Iterable[PoolAccount],
    model: str,
    *,
    protocol: str | None,
    group_id: str | None,
    now: datetime,
) -> Coverage:
    """How the pool would take a request for `model` from a member of `group_id` speaking
    `protocol` (or any protocol), as the scheduler decides it from the stored state."""
    fits: list[AccountFit] = []
    served: set[str] = set()
    for row in accounts:
        upstream = upstream_model(row.models or (), dict(row.aliases or {}), model)
        speaks = protocols_for(row.provider, upstream)
        translated = protocol is not None and protocol not in speaks
        if not translated or row.is_translation_allowed:
            served.update(row.models or ())
        reason = _skip_reason(row, upstream, translated, group_id, now)
        fits.append(
            AccountFit(
                account=row.name,
                provider=row.provider,
                protocols=speaks,
                upstream_model=upstream,
                usable=reason == "",
                translated=translated,
                reason=reason,
            )
        )
    # The order the scheduler looks in: usable first, the caller's own protocol before others.
    fits.sort(key=lambda f: (not f.usable, f.translated, f.upstream_model is None, f.account))
    if any(f.usable for f in fits):
        verdict = SERVED
    elif any(f.upstream_model is not None and f.reason != TRANSLATION_OFF for f in fits):
        verdict = UNAVAILABLE
    else:
        verdict = NOT_SERVED
    return Coverage(model, protocol, verdict, tuple(fits), tuple(sorted(served)))


def _skip_reason(
    row: PoolAccount,
    upstream: str | None,
    translated: bool,
    group_id: str | None,
    now: datetime,
) -> str:
    if upstream is None:
        return NOT_LISTED
    if translated and not row.is_translation_allowed:
        return TRANSLATION_OFF
    if row.group_ids and (group_id is None or group_id not in row.group_ids):
        return "dedicated to other groups"
    snapshot = snapshot_of(row)
    if snapshot.usable_at(now):
        return ""
    if snapshot.state is AccountState.COOLING and snapshot.cooling_until is not None:
        return f"cooling down until {snapshot.cooling_until.strftime('%H:%M:%S')} UTC"
    label = str(snapshot.state).replace("_", " ")
    if not snapshot.reason:
        return label
    if snapshot.reason.startswith(label):
        return snapshot.reason
    return f"{label} ({snapshot.reason})"
