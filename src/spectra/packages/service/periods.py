"""Periods on the ledger: grant each period's allowance, close it (expire or roll over), renew.

Every movement is idempotent by (assignment, period start): the grant's key is
`packages.grant:<assignment id>:<period start>`, the expiry's `packages.expire:<...>`, and
`package_periods` is unique on (assignment, start). The assignment row is locked while its
periods move, so two schedulers serialise and the second finds nothing left to do.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from spectra.audit import service as audit_service
from spectra.audit.actor import SYSTEM, Actor
from spectra.db.changes import record_change
from spectra.db.session import AnySession, Session
from spectra.kit.clock import utc_now
from spectra.kit.money import format_amount
from spectra.ledger import service as ledger_service
from spectra.packages import repository
from spectra.packages.models import (
    AssignmentStatus,
    Package,
    PackageAssignment,
    PackagePeriod,
    PackageVersion,
)
from spectra.packages.periods import Period, Window, close_period, window
from spectra.workspace import service as workspace_service

CHANGE_KIND = "packages.assignment"
_MAX_CATCH_UP = 400
"""Periods one pass may process for one assignment (a daily package down for a year is 365)."""


@dataclass(frozen=True, slots=True)
class RenewalResult:
    granted: int = 0
    closed: int = 0
    ended: bool = False


def grant_key(assignment_id: uuid.UUID, starts_at: datetime) -> str:
    return f"packages.grant:{assignment_id}:{starts_at.isoformat()}"


def expire_key(assignment_id: uuid.UUID, starts_at: datetime) -> str:
    return f"packages.expire:{assignment_id}:{starts_at.isoformat()}"


async def workspace_time_zone(session: AnySession) -> str:
    """The workspace time zone (IANA) that new assignments' periods follow."""
    return (await workspace_service.get_settings(session)).time_zone


def period_window(
    assignment: PackageAssignment, version: PackageVersion, index: int
) -> Window | None:
    """Period `index` of `assignment` under `version`'s period rule, cut at its end date."""
    return window(
        assignment.starts_at,
        period=Period(version.period),
        index=index,
        time_zone=assignment.time_zone,
        valid_days=version.valid_days,
        ends_at=assignment.ends_at,
    )


def stops_after_current(assignment: PackageAssignment) -> bool:
    """True when no period follows the current one: cancelled at period end, or not renewing."""
    if (
        assignment.cancel_at is not None
        and assignment.period_ends_at is not None
        and assignment.cancel_at <= assignment.period_ends_at
    ):
        return True
    return not assignment.auto_renew and assignment.ends_at is None


async def renew_assignment(
    session: Session,
    *,
    assignment_id: uuid.UUID,
    now: datetime | None = None,
    actor: Actor = SYSTEM,
) -> RenewalResult:
    """Bring one assignment up to `now`: grant a started first period, close each ended period
    (expire, roll over, carry a negative balance), grant the next or end the assignment.

    Idempotent: a re-run, or a second scheduler, grants nothing twice.
    """
    at = now or utc_now()
    assignment = await repository.get_assignment(session, assignment_id, lock=True)
    if assignment is None or assignment.status != AssignmentStatus.ACTIVE:
        return RenewalResult()
    granted = closed = 0
    ended = False
    for _ in range(_MAX_CATCH_UP):
        version = await _version(session, assignment.version_id)
        if assignment.period_index is None:
            if assignment.starts_at > at:
                break
            first = period_window(assignment, version, 0)
            assert first is not None  # ends_at > starts_at is a schema check
            await grant_period(session, actor, assignment=assignment, version=version, win=first)
            granted += 1
            continue
        assert assignment.period_ends_at is not None
        if assignment.period_ends_at > at:
            break
        nxt = (
            None
            if stops_after_current(assignment)
            else period_window(assignment, version, assignment.period_index + 1)
        )
        await close_current_period(session, actor, assignment=assignment, final=nxt is None, at=at)
        closed += 1
        if nxt is None:
            cancelled = assignment.cancel_at is not None
            await end_assignment(
                session,
                actor,
                assignment=assignment,
                at=assignment.period_ends_at,
                status=AssignmentStatus.CANCELLED if cancelled else AssignmentStatus.ENDED,
                reason="cancelled at period end" if cancelled else "last period ended",
            )
            ended = True
            break
        await grant_period(session, actor, assignment=assignment, version=version, win=nxt)
        granted += 1
    return RenewalResult(granted=granted, closed=closed, ended=ended)


async def grant_period(
    session: Session,
    actor: Actor,
    *,
    assignment: PackageAssignment,
    version: PackageVersion,
    win: Window,
) -> PackagePeriod:
    """Grant one period's allowance (funding -> the assignment's allowance) and make it current.

    Idempotent on (assignment, period start), in the ledger and in `package_periods`.
    """
    existing = await repository.find_period(session, assignment.id, win.index)
    if existing is not None:
        _make_current(assignment, existing)
        return existing
    amount = version.allowance_micros
    txn_id: uuid.UUID | None = None
    if amount > 0:
        package = await session.get(Package, assignment.package_id)
        funding = await ledger_service.get_or_create_account(session, kind="funding")
        txn = await ledger_service.post(
            session,
            actor,
            kind="grant",
            postings=[(funding.id, -amount), (assignment.allowance_account_id, amount)],
            idempotency_key=grant_key(assignment.id, win.starts_at),
            memo=f"{package.name if package else 'package'} v{version.version}: allowance "
            f"{format_amount(amount)} for {win.starts_at.isoformat()} to {win.ends_at.isoformat()}",
            metadata={
                "assignment_id": str(assignment.id),
                "user_id": str(assignment.user_id),
                "period_index": win.index,
                "period_start": win.starts_at.isoformat(),
                "version": version.version,
            },
        )
        txn_id = txn.id
    balance = await ledger_service.balance(session, assignment.allowance_account_id)
    period = PackagePeriod(
        assignment_id=assignment.id,
        period_index=win.index,
        version_id=version.id,
        starts_at=win.starts_at,
        ends_at=win.ends_at,
        carried_in_micros=balance - amount,
        granted_micros=amount,
        grant_transaction_id=txn_id,
    )
    session.add(period)
    _make_current(assignment, period)
    await session.flush()
    await record_change(session, CHANGE_KIND, assignment.user_id)
    return period


async def close_current_period(
    session: Session, actor: Actor, *, assignment: PackageAssignment, final: bool, at: datetime
) -> PackagePeriod | None:
    """Settle the current period: a positive balance rolls over (capped) or expires; a negative one
    stays on the account and reduces the next period (never forgiven). Idempotent."""
    if assignment.period_index is None:
        return None
    period = await repository.find_period(session, assignment.id, assignment.period_index)
    if period is None or period.closed_at is not None:
        return period
    version = await _version(session, period.version_id)
    balance = await ledger_service.balance(session, assignment.allowance_account_id)
    closing = close_period(
        balance,
        allowance=version.allowance_micros,
        rollover_periods=version.rollover_periods,
        final=final,
    )
    if closing.expire_micros > 0:
        expired = await ledger_service.get_or_create_account(session, kind="expired_allowance")
        txn = await ledger_service.post(
            session,
            actor,
            kind="expire",
            postings=[
                (assignment.allowance_account_id, -closing.expire_micros),
                (expired.id, closing.expire_micros),
            ],
            idempotency_key=expire_key(assignment.id, period.starts_at),
            memo=f"unused allowance of the period from {period.starts_at.isoformat()} expired",
            metadata={
                "assignment_id": str(assignment.id),
                "user_id": str(assignment.user_id),
                "period_index": period.period_index,
                "kept_micros": closing.kept_micros,
            },
        )
        period.expire_transaction_id = txn.id
    period.closing_balance_micros = balance
    period.expired_micros = closing.expire_micros
    period.closed_at = at
    await session.flush()
    return period


async def end_assignment(
    session: Session,
    actor: Actor,
    *,
    assignment: PackageAssignment,
    at: datetime,
    status: str,
    reason: str,
) -> None:
    """Mark an assignment ended or cancelled (its periods already closed). Writes an audit event."""
    before = {"status": assignment.status}
    assignment.status = status
    assignment.closed_at = at
    await session.flush()
    version = await _version(session, assignment.version_id)
    package = await session.get(Package, assignment.package_id)
    await audit_service.record(
        session,
        actor,
        "packages.assignment_end" if status == AssignmentStatus.ENDED else "packages.cancel",
        target_type="package_assignment",
        target_id=assignment.id,
        target_label=f"{package.name if package else assignment.package_id} for user {assignment.user_id}",
        before=before,
        after={"status": status},
        user_id=str(assignment.user_id),
        version=version.version,
        reason=reason,
    )
    await record_change(session, CHANGE_KIND, assignment.user_id)


def _make_current(assignment: PackageAssignment, period: PackagePeriod) -> None:
    assignment.period_index = period.period_index
    assignment.period_starts_at = period.starts_at
    assignment.period_ends_at = period.ends_at


async def _version(session: AnySession, version_id: uuid.UUID) -> PackageVersion:
    version = await session.get(PackageVersion, version_id)
    assert version is not None  # a foreign key
    return version
