"""Group default packages: set, list, and apply to a member who joins later."""

from __future__ import annotations

import uuid

from spectra.audit import service as audit_service
from spectra.audit.actor import SYSTEM, Actor
from spectra.db.session import AnySession, Session
from spectra.kit.clock import utc_now
from spectra.ledger import service as ledger_service
from spectra.packages import repository
from spectra.packages.errors import (
    AssignmentTargetNotFoundError,
)
from spectra.packages.models import (
    GroupDefaultPackage,
    Package,
    PackageAssignment,
    PackageStatus,
)
from spectra.packages.service.assignments import Plan, assignable_version, make_assignment
from spectra.packages.service.catalog import _version
from spectra.users import service as users_service
from spectra.users.models import Group, User
from spectra.users.permissions import Permission, require
from spectra.users.scope import scope_for


async def set_group_default_package(
    session: Session, actor: Actor, *, group: str, package: str | None
) -> GroupDefaultPackage | None:
    """Set (or with None, clear) the package members get when they join `group` later.
    Current members are not changed (`assign_group` does that). Writes an audit event."""
    require(actor, Permission.PACKAGES_WRITE)
    found = await users_service.find_group(session, actor, name=group)
    if found is None:
        raise AssignmentTargetNotFoundError(f"There is no group named '{group}'.", group=group)
    row = await repository.get_group_default(session, found.id)
    before_pkg = await session.get(Package, row.package_id) if row else None
    before = {"package": before_pkg.name if before_pkg else None}
    if package is None:
        if row is not None:
            await session.delete(row)
        result = None
    else:
        pkg, _ = await assignable_version(session, package)
        if row is None:
            row = GroupDefaultPackage(
                group_id=found.id, package_id=pkg.id, set_by=actor.label, set_at=utc_now()
            )
            session.add(row)
        else:
            row.package_id, row.set_by, row.set_at = pkg.id, actor.label, utc_now()
        result = row
    await session.flush()
    await audit_service.record(
        session,
        actor,
        "packages.group_default",
        target_type="group",
        target_id=found.id,
        target_label=found.name,
        before=before,
        after={"package": package},
    )
    return result


async def list_group_defaults(session: AnySession, actor: Actor) -> list[tuple[Group, Package]]:
    """Each group's default package: every group for readers of everything, the groups they
    lead for a team lead."""
    scope = await scope_for(session, actor, Permission.READ_ALL)
    out: list[tuple[Group, Package]] = []
    for row in await repository.list_group_defaults(session):
        if scope.groups is not None and row.group_id not in scope.groups:
            continue
        group, pkg = (
            await session.get(Group, row.group_id),
            await session.get(Package, row.package_id),
        )
        if group is not None and pkg is not None:
            out.append((group, pkg))
    return sorted(out, key=lambda gp: gp[0].name_key)


async def assign_group_default(
    session: Session, *, user_id: uuid.UUID, group_id: uuid.UUID
) -> PackageAssignment | None:
    """Give a user who joined `group_id` the group's default package, if it has an active one and
    the user does not hold it already. Runs as `system` in the joining unit of work; audited."""
    row = await repository.get_group_default(session, group_id)
    if row is None:
        return None
    pkg = await session.get(Package, row.package_id)
    group = await session.get(Group, group_id)
    user = await session.get(User, user_id)
    if pkg is None or user is None or pkg.status != PackageStatus.ACTIVE:
        return None
    if await repository.active_assignments_of_package(session, pkg.id, user_ids=[user_id]):
        return None
    version = await _version(session, pkg, pkg.current_version)
    reason = f"default package of group {group.name if group else group_id}"
    await ledger_service.refuse_own_gain(
        session,
        SYSTEM,
        amount=version.allowance_micros,
        user_id=user.id,
        by=user.id if row.set_by == user.email else None,
        why=f"You made '{pkg.name}' the default package of this group, so joining it cannot "
        "give it to you.",
    )
    return await make_assignment(
        session, SYSTEM, package=pkg, version=version, plan=Plan(user=user, reason=reason)
    )
