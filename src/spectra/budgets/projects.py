"""Projects: create, list, show, add or remove members and keys, set the budget, and the
project's own report (exact, from the usage records attributed to it). Every change writes its
audit event and a `budgets.project` change in the same transaction.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db.changes import record_change
from spectra.db.session import AnySession, Session
from spectra.keys import service as keys_service
from spectra.kit.clock import utc_now
from spectra.kit.money import format_amount
from spectra.kit.pagination import Page
from spectra.usage import by_project, reports
from spectra.users import service as users_service
from spectra.users.permissions import Permission, allows, require

from . import repository
from .errors import InvalidBudgetError, ProjectExistsError, ProjectNotFoundError
from .models import Project, ProjectKey, ProjectMember

PROJECT_CHANGE = "budgets.project"


async def _project_labels(session: AnySession, ids: list[uuid.UUID]) -> dict[str, str]:
    return {str(k): v for k, v in (await repository.project_names(session, ids)).items()}


reports.register_labels("project", _project_labels)
by_project.register_budgets(repository.project_budgets)


@dataclass(slots=True)
class ProjectView:
    """A project with its members' emails and its keys (the read answer's source)."""

    id: uuid.UUID
    name: str
    monthly_budget_micros: int | None
    mode: str
    is_header_allowed: bool
    members: list[str]
    keys: list[uuid.UUID]
    created_at: datetime


@dataclass(slots=True)
class ReportLine:
    key: str
    label: str
    requests: int
    cost_micros: int


@dataclass(slots=True)
class ProjectReport:
    project: str
    since: datetime | None
    until: datetime | None
    requests: int
    cost_micros: int
    charged_micros: int
    by_user: list[ReportLine]
    by_model: list[ReportLine]


def _settings(row: Project) -> dict[str, Any]:
    return {
        "budget": None
        if row.monthly_budget_micros is None
        else format_amount(row.monthly_budget_micros),
        "mode": row.mode,
        "header_allowed": row.is_header_allowed,
    }


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def _clean_name(name: str) -> str:
    clean = name.strip()
    if _NAME.fullmatch(clean) is None:
        raise InvalidBudgetError(
            "A project name is 1 to 100 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit.",
            field="name",
        )
    return clean


async def _views(session: AnySession, rows: list[Project]) -> list[ProjectView]:
    ids = [r.id for r in rows]
    members = await repository.project_members(session, ids)
    keys = await repository.project_keys(session, ids)
    emails = await users_service.user_emails(session, [m.user_id for m in members])
    return [
        ProjectView(
            id=r.id,
            name=r.name,
            monthly_budget_micros=r.monthly_budget_micros,
            mode=r.mode,
            is_header_allowed=r.is_header_allowed,
            members=sorted(emails.get(m.user_id, "") for m in members if m.project_id == r.id),
            keys=sorted((k.key_id for k in keys if k.project_id == r.id), key=str),
            created_at=r.created_at,
        )
        for r in rows
    ]


async def _changed(
    session: Session,
    actor: Actor,
    row: Project,
    action: str,
    *,
    label: str | None = None,
    **detail: Any,
) -> ProjectView:
    """Audit `action` on the project and note the change; the project as it reads now."""
    await audit_service.record(
        session,
        actor,
        action,
        target_type="project",
        target_id=row.id,
        target_label=row.name if label is None else label,
        **detail,
    )
    await record_change(session, PROJECT_CHANGE, row.id)
    return (await _views(session, [row]))[0]


async def is_member(session: AnySession, project_id: uuid.UUID, user_id: uuid.UUID | None) -> bool:
    if user_id is None:
        return False
    return await session.get(ProjectMember, (project_id, user_id)) is not None


async def get_project(
    session: AnySession, actor: Actor, *, name: str, for_extension: bool = False
) -> Project:
    """The active project named `name` (members may read their own projects)."""
    require(actor, Permission.SELF)
    row = await repository.project_by_name(session, name.strip())
    readable = row is not None and (
        allows(actor, Permission.READ_ALL)
        or for_extension
        or await is_member(session, row.id, actor.user_id)
    )
    if not readable and not allows(actor, Permission.READ_ALL):
        require(actor, Permission.READ_ALL)
    if row is None:
        raise ProjectNotFoundError(f"No project is named '{name.strip()}'.", project=name)
    return row


async def show_project(session: AnySession, actor: Actor, *, name: str) -> ProjectView:
    return (await _views(session, [await get_project(session, actor, name=name)]))[0]


async def list_projects(
    session: AnySession, actor: Actor, *, limit: int | None = None, cursor: str | None = None
) -> Page[ProjectView]:
    """Active projects by creation: all (with `read.all`) or the actor's own."""
    require(actor, Permission.SELF)
    mine = None if allows(actor, Permission.READ_ALL) else actor.user_id
    page = await repository.page_projects(session, user_id=mine, limit=limit, cursor=cursor)
    return Page(items=await _views(session, list(page.items)), next_cursor=page.next_cursor)


async def create_project(
    session: Session,
    actor: Actor,
    *,
    name: str,
    budget_micros: int | None = None,
    mode: str = "hard",
    header_allowed: bool = False,
) -> ProjectView:
    """Create a project, with an optional monthly budget. Audited."""
    require(actor, Permission.BUDGETS_WRITE)
    clean = _clean_name(name)
    if await repository.project_by_name(session, clean) is not None:
        raise ProjectExistsError(f"A project named '{clean}' exists already.", project=clean)
    row = Project(
        name=clean,
        monthly_budget_micros=budget_micros,
        mode=mode,
        is_header_allowed=header_allowed,
        status="active",
    )
    session.add(row)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise ProjectExistsError(
            f"A project named '{clean}' exists (or existed) already.", project=clean
        ) from None
    return await _changed(session, actor, row, "projects.create", after=_settings(row))


async def set_project_budget(
    session: Session,
    actor: Actor,
    *,
    name: str,
    fields: set[str],
    budget_micros: int | None = None,
    mode: str | None = None,
    header_allowed: bool | None = None,
) -> ProjectView:
    """Change a project's monthly budget, mode or header switch (only `fields`). Audited."""
    require(actor, Permission.BUDGETS_WRITE)
    row = await get_project(session, actor, name=name)
    before = _settings(row)
    if "budget" in fields:
        row.monthly_budget_micros = budget_micros
    if "mode" in fields and mode is not None:
        row.mode = mode
    if "header_allowed" in fields and header_allowed is not None:
        row.is_header_allowed = header_allowed
    row.updated_at = utc_now()
    await session.flush()
    return await _changed(
        session, actor, row, "projects.budget", before=before, after=_settings(row)
    )


async def add_member(session: Session, actor: Actor, *, name: str, email: str) -> ProjectView:
    """Add a member to a project (idempotent). Audited."""
    require(actor, Permission.BUDGETS_WRITE)
    row = await get_project(session, actor, name=name)
    user = await users_service.require_user(session, actor, email=email)
    if not await is_member(session, row.id, user.id):
        session.add(ProjectMember(project_id=row.id, user_id=user.id))
        await session.flush()
    return await _changed(session, actor, row, "projects.add_member", member=user.email)


async def add_key(session: Session, actor: Actor, *, name: str, key_id: uuid.UUID) -> ProjectView:
    """Attribute a key's requests to a project (a key belongs to at most one). Audited."""
    require(actor, Permission.BUDGETS_WRITE)
    row = await get_project(session, actor, name=name)
    key = await keys_service.get_key(session, actor, key_id=key_id)
    link = await session.get(ProjectKey, key.id)
    previous = None if link is None else link.project_id
    if link is None:
        session.add(ProjectKey(key_id=key.id, project_id=row.id))
    else:
        link.project_id = row.id
    await session.flush()
    return await _changed(
        session,
        actor,
        row,
        "projects.add_key",
        key_id=str(key.id),
        previous_project_id=None if previous is None else str(previous),
    )


async def remove(
    session: Session,
    actor: Actor,
    *,
    name: str,
    email: str | None = None,
    key_id: uuid.UUID | None = None,
) -> ProjectView:
    """Remove a member or a key from a project, or (naming neither) the project itself: its
    members and keys are detached; its usage records keep its id. Audited."""
    require(actor, Permission.BUDGETS_WRITE)
    row = await get_project(session, actor, name=name)
    detail: dict[str, Any] = {}
    if email is not None:
        user = await users_service.require_user(session, actor, email=email)
        member = await session.get(ProjectMember, (row.id, user.id))
        if member is not None:
            await session.delete(member)
        detail["member"] = user.email
    elif key_id is not None:
        link = await session.get(ProjectKey, key_id)
        if link is not None and link.project_id == row.id:
            await session.delete(link)
        detail["key_id"] = str(key_id)
    else:
        for member in await repository.project_members(session, [row.id]):
            await session.delete(member)
        for link in await repository.project_keys(session, [row.id]):
            await session.delete(link)
        row.status = "removed"
        row.name = f"{row.name}~{row.id.hex[:8]}"
        row.updated_at = utc_now()
    await session.flush()
    return await _changed(session, actor, row, "projects.remove", label=name.strip(), **detail)


async def project_report(
    session: AnySession,
    actor: Actor,
    *,
    name: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> ProjectReport:
    """The project's usage over [since, until): requests and cost by member and by model, and
    what was charged to funding sources, exact from the usage records (members may read their
    own projects' report)."""
    row = await get_project(session, actor, name=name)
    for label, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise InvalidBudgetError(f"{label} needs a time zone.", field=label)
    by_user = await repository.project_usage(session, row.id, since=since, until=until, by="user")
    by_model = await repository.project_usage(session, row.id, since=since, until=until, by="model")
    emails = await users_service.user_emails(session, [uuid.UUID(k) for k, *_ in by_user if k])
    charged = sum(
        int(str(source.get("amount_micros", 0)))
        for _, _, _, fundings in by_user
        for funding in fundings
        for source in funding
    )

    def lines(rows: list[Any], label: Any) -> list[ReportLine]:
        out = [ReportLine(k, label(k), r, c) for k, r, c, _ in rows]
        out.sort(key=lambda line: (-line.cost_micros, line.label))
        return out

    return ProjectReport(
        project=row.name,
        since=since,
        until=until,
        requests=sum(r for _, r, _, _ in by_user),
        cost_micros=sum(c for _, _, c, _ in by_user),
        charged_micros=charged,
        by_user=lines(by_user, lambda k: emails.get(uuid.UUID(k), k) if k else "(none)"),
        by_model=lines(by_model, lambda k: k or "(none)"),
    )
