"""REST API for packages: catalog and versions, assignments (single, bulk, group, CSV, with
previews), cancellation, version migration, group defaults and the member's package view."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from spectra.api.deps import ActorDep, ReadSessionDep, RuntimeDep, SessionDep
from spectra.api.progress import PROGRESS_RESPONSES, Tick, answer
from spectra.api.routing import previewed_route
from spectra.audit.actor import Actor
from spectra.db.session import Session
from spectra.errors import InvalidError
from spectra.kit.pagination import ListResource
from spectra.packages import service as packages_service
from spectra.packages.schemas import (
    AssignmentCreate,
    AssignmentRead,
    BulkAssignmentCreate,
    CancelIn,
    GroupDefaultIn,
    GroupDefaultRead,
    GroupDefaultSet,
    HoldingRead,
    ImportIn,
    MigrateIn,
    PackageCreate,
    PackageRead,
    PackageUpdate,
    PreviewRead,
    VersionRead,
)
from spectra.users.permissions import Permission, require

router = APIRouter(tags=["packages"])


@router.get("/packages")
async def list_packages(
    session: ReadSessionDep,
    actor: ActorDep,
    status: str | None = None,
    limit: Annotated[int | None, Query(ge=1, le=500)] = None,
    cursor: str | None = None,
) -> ListResource[PackageRead]:
    page = await packages_service.list_packages(
        session, actor, status=status, limit=limit, cursor=cursor
    )
    return ListResource[PackageRead].model_validate(page)


@router.post("/packages", status_code=201)
async def create_package(body: PackageCreate, session: SessionDep, actor: ActorDep) -> PackageRead:
    return PackageRead.model_validate(
        await packages_service.create_package(session, actor, data=body)
    )


@router.get("/packages/{name}")
async def get_package(name: str, session: ReadSessionDep, actor: ActorDep) -> PackageRead:
    return PackageRead.model_validate(await packages_service.get_package(session, actor, name=name))


@router.patch("/packages/{name}")
async def edit_package(
    name: str, body: PackageUpdate, session: SessionDep, actor: ActorDep
) -> PackageRead:
    """Changing terms makes a new version; existing assignments keep theirs until migrated."""
    return PackageRead.model_validate(
        await packages_service.edit_package(session, actor, name=name, data=body)
    )


@router.post("/packages/{name}/archive")
async def archive_package(name: str, session: SessionDep, actor: ActorDep) -> PackageRead:
    return PackageRead.model_validate(
        await packages_service.archive_package(session, actor, name=name)
    )


@router.get("/packages/{name}/versions")
async def list_versions(
    name: str, session: ReadSessionDep, actor: ActorDep
) -> ListResource[VersionRead]:
    versions = await packages_service.list_versions(session, actor, name=name)
    return ListResource[VersionRead].model_validate({"items": versions})


@router.post("/packages/{name}/assignments", status_code=201)
async def assign_package(
    name: str, body: AssignmentCreate, session: SessionDep, actor: ActorDep
) -> AssignmentRead:
    if (body.user_id is None) == (body.email is None):
        raise InvalidError("Name the user by exactly one of user_id or email.")
    if body.user_id is not None:
        user_id = body.user_id
    else:
        assert body.email is not None
        (user,) = await packages_service.resolve_users(session, actor, emails=[body.email])
        user_id = user.id
    detail = await packages_service.assign_package(
        session,
        actor,
        package=name,
        user_id=user_id,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        auto_renew=body.auto_renew,
        reason=body.reason,
    )
    return AssignmentRead.model_validate(detail)


async def _assign_bulk(
    session: Session,
    actor: Actor,
    name: str,
    body: BulkAssignmentCreate,
    progress: Tick | None = None,
) -> PreviewRead:
    """Assign to many users or a group's current members; `preview: true` changes nothing.
    With `Accept: application/x-ndjson` the change streams its progress (see `api.progress`)."""
    window: dict[str, Any] = {
        "starts_at": body.starts_at,
        "ends_at": body.ends_at,
        "auto_renew": body.auto_renew,
        "reason": body.reason,
        "preview": body.preview,
        "progress": progress,
    }
    if body.group is not None:
        if body.user_ids or body.emails:
            raise InvalidError("Name either a group or users, not both.")
        result = await packages_service.assign_group(
            session, actor, package=name, group=body.group, **window
        )
    else:
        if not body.user_ids and not body.emails:
            raise InvalidError("Name users (emails or user_ids) or a group.")
        require(actor, Permission.READ_ALL if body.preview else Permission.PACKAGES_WRITE)
        users = await packages_service.resolve_users(
            session, actor, emails=body.emails, user_ids=body.user_ids
        )
        result = await packages_service.assign_many(
            session, actor, package=name, users=users, **window
        )
    return PreviewRead.model_validate(result)


previewed_route(
    router,
    "/packages/{name}/assignments/bulk",
    BulkAssignmentCreate,
    _assign_bulk,
    name="assign_bulk",
)


async def _migrate(
    session: Session, actor: Actor, name: str, body: MigrateIn, progress: Tick | None = None
) -> PreviewRead:
    """Move assignments to another version; `preview: true` shows who changes and how.
    With `Accept: application/x-ndjson` the change streams its progress (see `api.progress`)."""
    if body.preview:
        result = await packages_service.preview_migration(
            session, actor, package=name, to_version=body.to_version, from_version=body.from_version
        )
    else:
        result = await packages_service.migrate_assignments(
            session,
            actor,
            package=name,
            to_version=body.to_version,
            from_version=body.from_version,
            reason=body.reason,
            progress=progress,
        )
    return PreviewRead.model_validate(result)


previewed_route(router, "/packages/{name}/migrate", MigrateIn, _migrate, name="migrate_version")


@router.post(
    "/package-assignments/import",
    response_model=ListResource[PreviewRead],
    responses=PROGRESS_RESPONSES,
)
async def import_assignments(
    body: ImportIn, request: Request, session: SessionDep, actor: ActorDep, runtime: RuntimeDep
) -> Any:
    """CSV of `email,package[,starts_at,ends_at,reason]`: all or nothing, rejected lines in the error.
    With `Accept: application/x-ndjson` the import streams its progress (see `api.progress`)."""
    return await answer(request, runtime, session, lambda s, tick: _import(s, actor, body, tick))


async def _import(
    session: Session, actor: Actor, body: ImportIn, progress: Tick | None = None
) -> ListResource[PreviewRead]:
    results = await packages_service.import_assignments(
        session,
        actor,
        csv_text=body.csv,
        reason=body.reason,
        preview=body.preview,
        progress=progress,
    )
    return ListResource[PreviewRead].model_validate({"items": results})


@router.get("/package-assignments")
async def list_assignments(
    session: ReadSessionDep,
    actor: ActorDep,
    user: str | None = None,
    package: str | None = None,
    status: str | None = None,
    limit: Annotated[int | None, Query(ge=1, le=500)] = None,
    cursor: str | None = None,
) -> ListResource[AssignmentRead]:
    user_id = await _user_id(session, actor, user) if user else None
    page = await packages_service.list_assignments(
        session, actor, user_id=user_id, package=package, status=status, limit=limit, cursor=cursor
    )
    return ListResource[AssignmentRead].model_validate(page)


@router.get("/package-assignments/{assignment_id}")
async def get_assignment(
    assignment_id: uuid.UUID, session: ReadSessionDep, actor: ActorDep
) -> AssignmentRead:
    return AssignmentRead.model_validate(
        await packages_service.get_assignment(session, actor, assignment_id=assignment_id)
    )


@router.post("/package-assignments/{assignment_id}/cancel")
async def cancel_assignment(
    assignment_id: uuid.UUID, body: CancelIn, session: SessionDep, actor: ActorDep
) -> AssignmentRead:
    """`when: now` closes the period at once (unused allowance expires); `period_end` (default)
    keeps it until the period ends, then no renewal."""
    detail = await packages_service.cancel_assignment(
        session, actor, assignment_id=assignment_id, when=body.when, reason=body.reason
    )
    return AssignmentRead.model_validate(detail)


@router.get("/group-default-packages")
async def list_group_defaults(
    session: ReadSessionDep, actor: ActorDep
) -> ListResource[GroupDefaultRead]:
    rows = await packages_service.list_group_defaults(session, actor)
    items = [GroupDefaultRead(group=g.name, group_id=g.id, package=p.name) for g, p in rows]
    return ListResource(items=items)


@router.put("/groups/{group}/default-package")
async def set_group_default(
    group: str, body: GroupDefaultIn, session: SessionDep, actor: ActorDep
) -> GroupDefaultSet:
    """Members who join the group later get this package; `package: null` clears it."""
    await packages_service.set_group_default_package(
        session, actor, group=group, package=body.package
    )
    return GroupDefaultSet(group=group, package=body.package)


@router.get("/me/packages")
async def my_packages(session: ReadSessionDep, actor: ActorDep) -> ListResource[HoldingRead]:
    """The packages the signed-in member holds: allowance, used, remaining, next reset, models, limits."""
    if actor.user_id is None:
        raise InvalidError(
            "Only a signed-in member has packages; admins use /api/users/{user_id}/packages."
        )
    holdings = await packages_service.packages_of_user(session, actor, user_id=actor.user_id)
    return ListResource[HoldingRead].model_validate({"items": holdings})


@router.get("/users/{user}/packages")
async def user_packages(
    user: str, session: ReadSessionDep, actor: ActorDep
) -> ListResource[HoldingRead]:
    """The same view as /api/me/packages, for any user named by id or email (admins and auditors)."""
    user_id = await _user_id(session, actor, user)
    holdings = await packages_service.packages_of_user(session, actor, user_id=user_id)
    return ListResource[HoldingRead].model_validate({"items": holdings})


async def _user_id(session: ReadSessionDep, actor: Actor, user: str) -> uuid.UUID:
    """A user named by id or email (an unknown email is a 403 to those who may not read all)."""
    try:
        return uuid.UUID(user)
    except ValueError:
        (found,) = await packages_service.resolve_users(session, actor, emails=[user])
        return found.id
