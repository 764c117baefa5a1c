"""Reading assignments: one or a page of them, with their package, version and holder."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from spectra.audit.actor import Actor
from spectra.db.session import AnySession
from spectra.kit.pagination import Page
from spectra.packages import repository
from spectra.packages.errors import AssignmentNotFoundError
from spectra.packages.models import PackageAssignment
from spectra.packages.service.catalog import _by_name
from spectra.packages.service.previews import AssignmentDetail
from spectra.users import service as users_service
from spectra.users.permissions import Permission, require
from spectra.users.scope import require_read_user


async def get_assignment(
    session: AnySession, actor: Actor, *, assignment_id: uuid.UUID
) -> AssignmentDetail:
    assignment = await find_assignment(session, assignment_id)
    await require_read_user(session, actor, assignment.user_id)
    return (await details(session, [assignment]))[0]


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
    return Page(items=await details(session, page.items), next_cursor=page.next_cursor)


async def find_assignment(
    session: AnySession, assignment_id: uuid.UUID, *, lock: bool = False
) -> PackageAssignment:
    """The assignment, row-locked with `lock`; `AssignmentNotFoundError` when there is none."""
    assignment = await repository.get_assignment(session, assignment_id, lock=lock)
    if assignment is None:
        raise AssignmentNotFoundError(
            f"No package assignment {assignment_id}.", assignment_id=str(assignment_id)
        )
    return assignment


async def details(
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


async def label(session: AnySession, assignment: PackageAssignment) -> str:
    return f"{(await details(session, [assignment]))[0].package_name} for user {assignment.user_id}"
