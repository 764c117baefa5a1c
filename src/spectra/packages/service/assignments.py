"""Assignments: to one user, many, a group's members; cancel; read. Bulk changes have a preview
(`previews`) computed by the same code that applies them; whom they reach is `targets`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db.changes import record_change
from spectra.db.session import AnySession, Session
from spectra.kit.clock import utc_now
from spectra.kit.ids import uuid7
from spectra.kit.pagination import Page
from spectra.ledger import service as ledger_service
from spectra.packages import repository
from spectra.packages.errors import (
    AssignmentExistsError,
    AssignmentNotActiveError,
    AssignmentNotFoundError,
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
from spectra.packages.service.targets import group_members, resolve_users
from spectra.users import service as users_service
from spectra.users.models import User
from spectra.users.permissions import Permission, PermissionDeniedError, require
from spectra.users.scope import (
    Scope,
    lead_groups_over,
    require_over,
    require_read_user,
    scope_for,
)

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


async def get_assignment(
    session: AnySession, actor: Actor, *, assignment_id: uuid.UUID
) -> AssignmentDetail:
    assignment = await _assignment(session, assignment_id)
    await require_read_user(session, actor, assignment.user_id)
    return (await _details(session, [assignment]))[0]


async def list_assignments(
    session: AnySession,
    actor: Actor,
    *,
    user_id: uuid.UUID | None = None,
    package: str | None = None,
    status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[AssignmentDetail]:
    if user_id is None:
        require(actor, Permission.READ_ALL)
    else:
        await require_read_user(session, actor, user_id)
    package_id = (await _by_name(session, package)).id if package else None
    page = await repository.list_assignments(
        session, user_id=user_id, package_id=package_id, status=status, limit=limit, cursor=cursor
    )
    return Page(items=await _details(session, page.items), next_cursor=page.next_cursor)


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
        user = await _lead_may_handle(session, actor, scope, user_id, pkg.id)
    assignment = await make_assignment(
        session,
        actor,
        package=pkg,
        version=version,
        plan=Plan(
            user=user, starts_at=starts_at, ends_at=ends_at, auto_renew=auto_renew, reason=reason
        ),
    )
    return (await _details(session, [assignment]))[0]


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
    assignment = await repository.get_assignment(session, assignment_id, lock=True)
    if assignment is None:
        raise AssignmentNotFoundError(
            f"No package assignment {assignment_id}.", assignment_id=str(assignment_id)
        )
    if not scope.everywhere:
        await _lead_may_handle(session, actor, scope, assignment.user_id, assignment.package_id)
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
            target_label=await _label(session, assignment),
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
    return (await _details(session, [assignment]))[0]


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


async def _lead_may_handle(
    session: AnySession, actor: Actor, scope: Scope, user_id: uuid.UUID, package_id: uuid.UUID
) -> User:
    """A team lead assigns or cancels only the default package of a group they lead, for a
    member of that group (`spectra.users.scope`); the role's refusal otherwise."""
    user = (await users_service.users_by_id(session, [user_id])).get(user_id)
    await require_over(session, actor, Permission.PACKAGES_WRITE, user)
    assert user is not None
    for group_id in await lead_groups_over(session, scope, user, actor):
        default = await repository.get_group_default(session, group_id)
        if default is not None and default.package_id == package_id:
            return user
    raise PermissionDeniedError(
        "As a team lead you may assign or cancel only the default package of a group you lead; "
        "ask an admin for any other package."
    )


async def _assignment(session: AnySession, assignment_id: uuid.UUID) -> PackageAssignment:
    assignment = await repository.get_assignment(session, assignment_id)
    if assignment is None:
        raise AssignmentNotFoundError(
            f"No package assignment {assignment_id}.", assignment_id=str(assignment_id)
        )
    return assignment


async def _details(
    session: AnySession, assignments: Sequence[PackageAssignment]
) -> list[AssignmentDetail]:
    versions = await repository.versions_by_id(session, [a.version_id for a in assignments])
    packages = await repository.packages_by_id(session, [a.package_id for a in assignments])
    users = await users_service.users_by_id(session, [a.user_id for a in assignments])
    return [
        AssignmentDetail(
            assignment=a,
            package_name=packages[a.package_id].name,
            version=versions[a.version_id].version,
            email=users[a.user_id].email if a.user_id in users else None,
        )
        for a in assignments
    ]


async def _label(session: AnySession, assignment: PackageAssignment) -> str:
    return (
        f"{(await _details(session, [assignment]))[0].package_name} for user {assignment.user_id}"
    )


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
