"""/api/projects: projects with their members, keys and monthly budget, and each project's
report. Each call is one service function of `spectra.budgets.projects`."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from spectra.api.deps import ActorDep, ReadSessionDep, SessionDep
from spectra.budgets import projects as projects_service
from spectra.budgets.schemas import ProjectChange, ProjectCreate, ProjectRead, ProjectReportRead
from spectra.kit.pagination import ListResource

router = APIRouter(prefix="/projects", tags=["projects"])


class MemberAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str


class KeyAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key_id: uuid.UUID


@router.get("")
async def list_projects(
    session: ReadSessionDep, actor: ActorDep, limit: int | None = None, cursor: str | None = None
) -> ListResource[ProjectRead]:
    """Every project (admins), or the caller's own."""
    page = await projects_service.list_projects(session, actor, limit=limit, cursor=cursor)
    return ListResource[ProjectRead].model_validate(page)


@router.post("", status_code=201)
async def create_project(body: ProjectCreate, session: SessionDep, actor: ActorDep) -> ProjectRead:
    view = await projects_service.create_project(
        session,
        actor,
        name=body.name,
        budget_micros=body.budget,
        mode=body.mode,
        header_allowed=body.header_allowed,
    )
    return ProjectRead.model_validate(view)


@router.get("/{name}")
async def show_project(name: str, session: ReadSessionDep, actor: ActorDep) -> ProjectRead:
    return ProjectRead.model_validate(
        await projects_service.show_project(session, actor, name=name)
    )


@router.patch("/{name}")
async def set_project_budget(
    name: str, body: ProjectChange, session: SessionDep, actor: ActorDep
) -> ProjectRead:
    """Change the monthly budget (`null` removes it), its mode, or whether members may attribute
    requests with `x-spectra-project`."""
    view = await projects_service.set_project_budget(
        session,
        actor,
        name=name,
        fields=set(body.model_fields_set),
        budget_micros=body.budget,
        mode=body.mode,
        header_allowed=body.header_allowed,
    )
    return ProjectRead.model_validate(view)


@router.post("/{name}/members")
async def add_member(
    name: str, body: MemberAdd, session: SessionDep, actor: ActorDep
) -> ProjectRead:
    view = await projects_service.add_member(session, actor, name=name, email=body.email)
    return ProjectRead.model_validate(view)


@router.post("/{name}/keys")
async def add_key(name: str, body: KeyAdd, session: SessionDep, actor: ActorDep) -> ProjectRead:
    view = await projects_service.add_key(session, actor, name=name, key_id=body.key_id)
    return ProjectRead.model_validate(view)


@router.delete("/{name}")
async def remove(
    name: str,
    session: SessionDep,
    actor: ActorDep,
    member: str | None = None,
    key_id: uuid.UUID | None = None,
) -> ProjectRead:
    """Remove `member` (an email) or `key_id` from the project, or, naming neither, the
    project itself (its usage records keep its id)."""
    view = await projects_service.remove(session, actor, name=name, email=member, key_id=key_id)
    return ProjectRead.model_validate(view)


@router.get("/{name}/report")
async def project_report(
    name: str,
    session: ReadSessionDep,
    actor: ActorDep,
    since: datetime | None = None,
    until: datetime | None = None,
) -> ProjectReportRead:
    """Requests and cost by member and by model over [since, until), exact from the usage
    records, with what was charged to funding sources."""
    report = await projects_service.project_report(
        session, actor, name=name, since=since, until=until
    )
    return ProjectReportRead.model_validate(report)
