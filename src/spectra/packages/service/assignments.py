"""Assignments: to one user, many, a group's members; cancel; read. Bulk changes have a preview
(`previews`) computed by the same code that applies them; whom they reach is `targets`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db.changes import record_change
from spectra.db.session import AnySession, Session
from spectra.kit.clock import utc_now
from spectra.kit.ids import uuid7
from spectra.ledger import service as ledger_service
from spectra.packages import repository
from spectra.packages.errors import (
    AssignmentExistsError,
    PackageArchivedError,
    PackageTermsInvalidError,
)
from spectra.packages.models import (
    AssignmentStatus,
    Package,
    PackageAssignment,
    PackageStatus,
    PackageVersion,
)
from spectra.packages.service import periods as period_service
from spectra.packages.service.assignment_reads import details, get_assignment, list_assignments
from spectra.packages.service.cancel import cancel_assignment
from spectra.packages.service.catalog import _by_name, _version
from spectra.packages.service.previews import (
    AssignmentDetail,
    Change,
    Plan,
    Preview,
    PreviewRow,
    Progress,
    preview_gains,
)
from spectra.packages.service.targets import group_members, lead_may_handle, resolve_users
from spectra.users.models import User
from spectra.users.permissions import Permission, require
from spectra.users.scope import scope_for

__all__ = [
    "AssignmentDetail",
    "Change",
    "Plan",
    "Preview",
    "PreviewRow",
    "Progress",
    "assign_group",
    "assign_many",
    "assign_package",
    "assignable_version",
    "cancel_assignment",
    "check_window",
    "get_assignment",
    "group_members",
    "list_assignments",
    "make_assignment",
    "preview_assignment",
    "preview_gains",
    "resolve_users",
]


async def assign_package(
    session: Session,
    actor: Actor,
    *,
    package: str,
    user_id: uuid.UUID,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    auto_renew: bool = True,
    reason: str = "",
) -> AssignmentDetail:
    """Give one user a package at its current version; a started first period is granted at once.
    Writes an audit event and a change-feed row."""
    scope = await scope_for(session, actor, Permission.PACKAGES_WRITE)
    pkg, version = await assignable_version(session, package)
    if scope.everywhere:
        (user,) = await resolve_users(session, actor, user_ids=[user_id])
    else:
        user = await lead_may_handle(session, actor, scope, user_id, pkg.id)
    assignment = await make_assignment(
        session,
        actor,
        package=pkg,
        version=version,
        plan=Plan(
            user=user, starts_at=starts_at, ends_at=ends_at, auto_renew=auto_renew, reason=reason
        ),
    )
    return (await details(session, [assignment]))[0]


async def preview_assignment(
    session: AnySession, actor: Actor, *, package: str, users: Sequence[User]
) -> Preview:
    """Who would gain the package (and its allowance) and who already holds it. Changes nothing."""
    require(actor, Permission.READ_ALL)
    pkg, version = await assignable_version(session, package)
    return await preview_gains(session, pkg, version, users)


async def assign_many(
    session: Session,
    actor: Actor,
    *,
    package: str,
    users: Sequence[User],
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    auto_renew: bool = True,
    reason: str = "",
    preview: bool = False,
    progress: Progress | None = None,
    scope: str | None = None,
) -> Preview:
    """Assign a package to many users (those who already hold it are left unchanged). With
    `preview`, only say who would change. Each assignment is audited, plus one summary event."""
    require(actor, Permission.READ_ALL if preview else Permission.PACKAGES_WRITE)
    pkg, version = await assignable_version(session, package)
    result = await preview_gains(session, pkg, version, users)
    if preview:
        return result
    gains = [r for r in result.rows if r.change == "gain"]
    by_id = {u.id: u for u in users}
    for done, row in enumerate(gains, start=1):
        await make_assignment(
            session,
            actor,
            package=pkg,
            version=version,
            plan=Plan(
                user=by_id[row.user_id],
                starts_at=starts_at,
                ends_at=ends_at,
                auto_renew=auto_renew,
                reason=reason,
            ),
        )
        if progress is not None:
            progress(done, len(gains))
    await audit_service.record(
        session,
        actor,
        "packages.assign_bulk",
        target_type="package",
        target_id=pkg.id,
        target_label=pkg.name,
        scope=scope,
        version=version.version,
        gained=len(gains),
        unchanged=result.count("unchanged"),
        reason=reason,
    )
    result.applied = True
    return result


async def assign_group(
    session: Session,
    actor: Actor,
    *,
    package: str,
    group: str,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    auto_renew: bool = True,
    reason: str = "",
    preview: bool = False,
    progress: Progress | None = None,
) -> Preview:
    """Assign a package to every current (active) member of a group; see `assign_many`."""
    found, members = await group_members(session, actor, group=group)
    return await assign_many(
        session,
        actor,
        package=package,
        users=members,
        starts_at=starts_at,
        ends_at=ends_at,
        auto_renew=auto_renew,
        reason=reason or f"members of group {found.name}",
        preview=preview,
        progress=progress,
        scope=f"group:{found.name}",
    )


async def make_assignment(
    session: Session, actor: Actor, *, package: Package, version: PackageVersion, plan: Plan
) -> PackageAssignment:
    now = utc_now()
    time_zone = await period_service.workspace_time_zone(session)
    starts_at = _aware(plan.starts_at, time_zone) or now
    ends_at = _aware(plan.ends_at, time_zone)
    check_window(starts_at, ends_at)
    user = plan.user
    if await repository.active_assignments_of_package(session, package.id, user_ids=[user.id]):
        raise AssignmentExistsError(
            f"{user.email} already holds package '{package.name}'.",
            email=user.email,
            package=package.name,
        )
    await ledger_service.refuse_own_gain(
        session,
        actor,
        amount=version.allowance_micros,
        user_id=user.id,
        why=f"You cannot assign package '{package.name}' to yourself.",
    )
    assignment_id = uuid7()
    account = await ledger_service.get_or_create_account(
        session, kind="allowance", owner_id=assignment_id
    )
    assignment = PackageAssignment(
        id=assignment_id,
        user_id=user.id,
        package_id=package.id,
        version_id=version.id,
        status=AssignmentStatus.ACTIVE,
        starts_at=starts_at,
        ends_at=ends_at,
        auto_renew=plan.auto_renew,
        time_zone=time_zone,
        allowance_account_id=account.id,
        reason=plan.reason,
        assigned_by=actor.label,
    )
    session.add(assignment)
    await session.flush()
    await audit_service.record(
        session,
        actor,
        "packages.assign",
        target_type="package_assignment",
        target_id=assignment.id,
        target_label=f"{package.name} for {user.email}",
        after={
            "package": package.name,
            "version": version.version,
            "starts_at": starts_at.isoformat(),
            "ends_at": ends_at.isoformat() if ends_at else None,
            "auto_renew": plan.auto_renew,
        },
        user_id=str(user.id),
        email=user.email,
        version=version.version,
        reason=plan.reason,
    )
    await record_change(session, period_service.CHANGE_KIND, user.id)
    if starts_at <= now:
        await period_service.renew_assignment(
            session, assignment_id=assignment.id, now=now, actor=actor
        )
    return assignment


async def assignable_version(session: AnySession, name: str) -> tuple[Package, PackageVersion]:
    pkg = await _by_name(session, name)
    if pkg.status != PackageStatus.ACTIVE:
        raise PackageArchivedError(
            f"Package '{pkg.name}' is archived; it cannot be assigned.", package=pkg.name
        )
    return pkg, await _version(session, pkg, pkg.current_version)


def _aware(value: datetime | None, time_zone: str) -> datetime | None:
    """A time without an offset is read in the workspace time zone."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=ZoneInfo(time_zone))


def check_window(starts_at: datetime, ends_at: datetime | None) -> None:
    if ends_at is not None and ends_at <= starts_at:
        raise PackageTermsInvalidError(
            "The end date must be after the start date.", field="ends_at"
        )
