"""Read models: the entitlements the gateway and policy cache, and the member's package view."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

from sqlalchemy import Select

from spectra.audit.actor import Actor
from spectra.db.session import AnySession
from spectra.kit.pagination import Page
from spectra.ledger import service as ledger_service
from spectra.ledger.models import LedgerTransaction
from spectra.packages import repository
from spectra.packages.models import PackageAssignment
from spectra.packages.service.periods import period_window, stops_after_current
from spectra.users.scope import require_read_user


@dataclass(frozen=True, slots=True)
class Entitlement:
    """One active, granted package assignment of a user: what the gateway and policy need.

    Plain values only, so a process can hold every user's entitlements in memory and refresh a
    user's on a `packages.assignment` change (entity id = the user id).
    """

    user_id: uuid.UUID
    assignment_id: uuid.UUID
    package_id: uuid.UUID
    package_name: str
    version: int
    model_patterns: tuple[str, ...]
    rpm: int | None
    tpm: int | None
    max_concurrent: int | None
    max_cost_per_request_micros: int | None
    allowance_account_id: uuid.UUID
    period_starts_at: datetime
    period_ends_at: datetime
    """When the current period's allowance resets or expires: the funding order's "soonest-expiring"."""

    def allows_model(self, model: str) -> bool:
        """True when one of the package's glob patterns matches `model` (case-sensitive)."""
        return any(fnmatchcase(model, pattern) for pattern in self.model_patterns)


@dataclass(frozen=True, slots=True)
class Holding:
    """A package a member holds, with the numbers the member and admins both see (micros)."""

    assignment: PackageAssignment
    package_name: str
    version: int
    allowance_micros: int
    """Allowance per period under the assignment's version."""
    carried_in_micros: int
    """Rolled over (> 0) or overspent (< 0) from the previous period."""
    available_micros: int
    """What the current period made available: carried in + granted."""
    used_micros: int
    """available - remaining."""
    remaining_micros: int
    """The allowance account's ledger balance (negative = overspent, carried into the next period)."""
    period_starts_at: datetime | None
    period_ends_at: datetime | None
    next_reset_at: datetime | None
    """When the next period's grant arrives; None when no period follows."""
    model_patterns: list[str]
    rpm: int | None
    tpm: int | None
    max_concurrent: int | None
    max_cost_per_request_micros: int | None


async def entitlements_for_users(
    session: AnySession, user_ids: Sequence[uuid.UUID] | None = None
) -> list[Entitlement]:
    """Entitlements of `user_ids` (every user when None): active assignments whose first period
    was granted, ordered by user, then soonest period end. For cache loading; no permission check."""
    assignments = [
        a
        for a in await repository.active_assignments(session, user_ids=user_ids)
        if a.period_index is not None
        and a.period_starts_at is not None
        and a.period_ends_at is not None
    ]
    versions = await repository.versions_by_id(session, [a.version_id for a in assignments])
    packages = await repository.packages_by_id(session, [a.package_id for a in assignments])
    out = []
    for a in assignments:
        v = versions[a.version_id]
        assert a.period_starts_at is not None
        assert a.period_ends_at is not None
        out.append(
            Entitlement(
                user_id=a.user_id,
                assignment_id=a.id,
                package_id=a.package_id,
                package_name=packages[a.package_id].name,
                version=v.version,
                model_patterns=tuple(v.model_patterns),
                rpm=v.rpm,
                tpm=v.tpm,
                max_concurrent=v.max_concurrent,
                max_cost_per_request_micros=v.max_cost_per_request_micros,
                allowance_account_id=a.allowance_account_id,
                period_starts_at=a.period_starts_at,
                period_ends_at=a.period_ends_at,
            )
        )
    out.sort(key=lambda e: (str(e.user_id), e.period_ends_at, str(e.assignment_id)))
    return out


async def packages_of_user(
    session: AnySession, actor: Actor, *, user_id: uuid.UUID
) -> list[Holding]:
    """The packages a user holds now (active assignments), with allowance, used, remaining (the
    ledger balance), next reset, models and limits. A member may read their own; admins anyone's."""
    await require_read_user(session, actor, user_id)
    assignments = await repository.active_assignments(session, user_ids=[user_id])
    versions = await repository.versions_by_id(session, [a.version_id for a in assignments])
    packages = await repository.packages_by_id(session, [a.package_id for a in assignments])
    periods = await repository.current_periods(session, assignments)
    out = []
    for a in assignments:
        v = versions[a.version_id]
        period = periods.get(a.id)
        remaining = await ledger_service.balance(session, a.allowance_account_id)
        carried = period.carried_in_micros if period else remaining
        available = period.opening_micros if period else remaining
        next_reset: datetime | None
        if period is None:
            next_reset = a.starts_at
        else:
            following = (
                None if stops_after_current(a) else period_window(a, v, period.period_index + 1)
            )
            next_reset = following.starts_at if following is not None else None
        out.append(
            Holding(
                assignment=a,
                package_name=packages[a.package_id].name,
                version=v.version,
                allowance_micros=v.allowance_micros,
                carried_in_micros=carried,
                available_micros=available,
                used_micros=available - remaining,
                remaining_micros=remaining,
                period_starts_at=a.period_starts_at,
                period_ends_at=a.period_ends_at,
                next_reset_at=next_reset,
                model_patterns=list(v.model_patterns),
                rpm=v.rpm,
                tpm=v.tpm,
                max_concurrent=v.max_concurrent,
                max_cost_per_request_micros=v.max_cost_per_request_micros,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class UserLedger:
    """A page of a member's ledger activity and which of the accounts in it are theirs."""

    page: Page[LedgerTransaction]
    wallet_id: uuid.UUID
    allowance_ids: frozenset[uuid.UUID]


async def user_ledger(
    session: AnySession,
    actor: Actor,
    *,
    user_id: uuid.UUID,
    limit: int | None = None,
    cursor: str | None = None,
) -> UserLedger:
    """All of a member's ledger activity, newest first: their wallet and the allowance accounts
    of every package they held (grants, usage, expiries). A member may read their own."""
    await require_read_user(session, actor, user_id)
    wallet = await ledger_service.get_wallet(session, actor, user_id=user_id)
    allowances = await repository.allowance_accounts_of(session, user_id)
    page = await ledger_service.list_transactions(
        session, actor, user_id=user_id, also_accounts=allowances, limit=limit, cursor=cursor
    )
    return UserLedger(page=page, wallet_id=wallet.id, allowance_ids=frozenset(allowances))


def holders_of(package_id: uuid.UUID) -> Select[Any]:
    """A subquery of the users holding the package now (for a user list's filter)."""
    return repository.holder_ids(package_id)
