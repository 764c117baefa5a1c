"""Cancelling an assignment: now (its period closes and its unused allowance expires) or at the
end of its current period (the renewal job closes it then)."""

from __future__ import annotations

import uuid
from typing import Literal

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db.changes import record_change
from spectra.db.session import Session
from spectra.kit.clock import utc_now
from spectra.packages.errors import AssignmentNotActiveError
from spectra.packages.models import (
    AssignmentStatus,
    PackageVersion,
)
from spectra.packages.service import periods as period_service
from spectra.packages.service.assignment_reads import details, find_assignment, label
from spectra.packages.service.previews import AssignmentDetail
from spectra.packages.service.targets import lead_may_handle
from spectra.users.permissions import Permission
from spectra.users.scope import scope_for


async def cancel_assignment(
    session: Session,
    actor: Actor,
    *,
    assignment_id: uuid.UUID,
    when: Literal["now", "period_end"],
    reason: str = "",
) -> AssignmentDetail:
    """Cancel an assignment.

    `now`: the current period closes at once; its unused allowance expires (a negative balance
    stays on the account, never forgiven) and no further period is granted.
    `period_end`: the member keeps the current period's allowance until it ends; the renewal job
    then closes it as usual (expiry, no rollover) and marks the assignment cancelled. An
    assignment whose first period has not started is cancelled at once either way.
    Writes an audit event and a change-feed row.
    """
    scope = await scope_for(session, actor, Permission.PACKAGES_WRITE)
    assignment = await find_assignment(session, assignment_id, lock=True)
    if not scope.everywhere:
        await lead_may_handle(session, actor, scope, assignment.user_id, assignment.package_id)
    if assignment.status != AssignmentStatus.ACTIVE:
        raise AssignmentNotActiveError(
            f"This assignment is already {assignment.status}.", status=assignment.status
        )
    now = utc_now()
    if when == "period_end" and assignment.period_ends_at is not None:
        assignment.cancel_at = assignment.period_ends_at
        await session.flush()
        version = await session.get(PackageVersion, assignment.version_id)
        await audit_service.record(
            session,
            actor,
            "packages.cancel_scheduled",
            target_type="package_assignment",
            target_id=assignment.id,
            target_label=await label(session, assignment),
            before={"cancel_at": None},
            after={"cancel_at": assignment.cancel_at.isoformat()},
            user_id=str(assignment.user_id),
            version=version.version if version else None,
            reason=reason,
        )
        await record_change(session, period_service.CHANGE_KIND, assignment.user_id)
    else:
        await period_service.close_current_period(
            session, actor, assignment=assignment, final=True, at=now
        )
        await period_service.end_assignment(
            session,
            actor,
            assignment=assignment,
            at=now,
            status=AssignmentStatus.CANCELLED,
            reason=reason or "cancelled now",
        )
    return (await details(session, [assignment]))[0]
