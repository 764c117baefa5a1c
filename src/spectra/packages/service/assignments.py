"""Assignments: to one user, many, a group's members, a CSV; cancel; migrate versions; group
defaults. Bulk changes have a preview (who gains, loses or changes allowance) computed by the
same code that applies them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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
    AssignmentTargetNotFoundError,
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
from spectra.users import service as users_service
from spectra.users.models import Group, User
from spectra.users.permissions import Permission, require

Progress = Callable[[int, int], None]
"""Called as (done, total) while a bulk change applies: the CLI draws its progress bar from it."""
Change = Literal["gain", "lose", "change", "unchanged"]


@dataclass(frozen=True, slots=True)
class PreviewRow:
    user_id: uuid.UUID
    email: str
    change: Change
    from_version: int | None
    to_version: int | None
    allowance_before_micros: int
    allowance_after_micros: int
    """Allowance per period before and after, micros."""
    note: str = ""


@dataclass(slots=True)
class Preview:
    """Who a bulk change touches and how; `applied` says whether it was carried out."""

    action: str
    package: str
    rows: list[PreviewRow] = field(default_factory=list)
    applied: bool = False

    def count(self, change: Change) -> int:
        return sum(1 for r in self.rows if r.change == change)

    @property
    def allowance_delta_micros(self) -> int:
        return sum(r.allowance_after_micros - r.allowance_before_micros for r in self.rows)


@dataclass(frozen=True, slots=True)
class AssignmentDetail:
    assignment: PackageAssignment
    package_name: str
    version: int
    email: str | None


@dataclass(frozen=True, slots=True)
class Plan:
    """Validated terms of one assignment to make."""

    user: User
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    auto_renew: bool = True
    reason: str = ""


async def get_assignment(
    session: AnySession, actor: Actor, *, assignment_id: uuid.UUID
) -> AssignmentDetail:
    require(actor, Permission.READ_ALL)
    assignment = await _assignment(session, assignment_id)
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
    if user_id is None or user_id != actor.user_id:
        require(actor, Permission.READ_ALL)
    package_id = (await _by_name(session, package)).id if package else None
    page = await repository.list_assignments(
        session, user_id=user_id, package_id=package_id, status=status, limit=limit, cursor=cursor
    )
    return Page(items=await _details(session, page.items), next_cursor=page.next_cursor)


async def resolve_users(
    session: AnySession,
    actor: Actor,
    *,
    emails: Sequence[str] = (),
    user_ids: Sequence[uuid.UUID] = (),
) -> list[User]:
    """Users named by email or id, in the order given; unknown ones are one clear error (a 403
    instead to an actor who may not read everyone, so emails cannot be probed)."""
    for email in emails:
        users_service.may_name(actor, email=email)
    for user_id in user_ids:
        users_service.may_name(actor, user_id=user_id)
    by_email = await users_service.users_by_email(session, emails)
    by_id = await users_service.users_by_id(session, user_ids)
    missing = [e for e in emails if e.strip().lower() not in by_email] + [
        str(i) for i in user_ids if i not in by_id
    ]
    if missing:
        raise AssignmentTargetNotFoundError(
            f"No user {', '.join(missing)}; `spectra users list` shows them.", missing=missing
        )
    seen: dict[uuid.UUID, User] = {}
    for user in [by_email[e.strip().lower()] for e in emails] + [by_id[i] for i in user_ids]:
        seen.setdefault(user.id, user)
    return list(seen.values())


async def group_members(
    session: AnySession, actor: Actor, *, group: str
) -> tuple[Group, list[User]]:
    """A group named by name and its active members."""
    found = await users_service.find_group(session, actor, name=group)
    if found is None:
        raise AssignmentTargetNotFoundError(f"There is no group named '{group}'.", group=group)
    return found, list(await repository.group_members(session, found.id))


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
    require(actor, Permission.PACKAGES_WRITE)
    pkg, version = await assignable_version(session, package)
    (user,) = await resolve_users(session, actor, user_ids=[user_id])
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
    require(actor, Permission.PACKAGES_WRITE)
    assignment = await repository.get_assignment(session, assignment_id, lock=True)
    if assignment is None:
        raise AssignmentNotFoundError(
            f"No package assignment {assignment_id}.", assignment_id=str(assignment_id)
        )
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


async def preview_gains(
    session: AnySession, pkg: Package, version: PackageVersion, users: Sequence[User]
) -> Preview:
    held = {
        a.user_id: a
        for a in await repository.active_assignments_of_package(
            session, pkg.id, user_ids=[u.id for u in users]
        )
    }
    versions = await repository.versions_by_id(session, [a.version_id for a in held.values()])
    result = Preview(action="assign", package=pkg.name)
    for user in users:
        current = held.get(user.id)
        if current is None:
            result.rows.append(
                PreviewRow(
                    user.id,
                    user.email,
                    "gain",
                    None,
                    version.version,
                    0,
                    version.allowance_micros,
                    "gains the package",
                )
            )
        else:
            have = versions[current.version_id]
            result.rows.append(
                PreviewRow(
                    user.id,
                    user.email,
                    "unchanged",
                    have.version,
                    have.version,
                    have.allowance_micros,
                    have.allowance_micros,
                    f"already holds version {have.version}",
                )
            )
    return result


async def assignable_version(session: AnySession, name: str) -> tuple[Package, PackageVersion]:
    pkg = await _by_name(session, name)
    if pkg.status != PackageStatus.ACTIVE:
        raise PackageArchivedError(
            f"Package '{pkg.name}' is archived; it cannot be assigned.", package=pkg.name
        )
    return pkg, await _version(session, pkg, pkg.current_version)


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
