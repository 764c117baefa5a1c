"""Key budgets, projects and budget extensions in the console, and the member's own budgets.

URLs: GET /console/budgets (key budgets, extension requests), POST /console/budgets/keys,
POST /console/budgets/keys/{key_id}/clear, POST /console/budgets/extensions/{id}/approve|reject;
GET/POST /console/projects, GET /console/projects/{name} (with its report), POST
/console/projects/{name}/budget|members|keys|remove; GET /console/me/budgets and POST
/console/me/budgets/extensions (members). The same service functions as `/api/budgets`,
`/api/projects` and `spectra budgets|projects` (each writes its audit event).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from spectra.budgets import projects as projects_service
from spectra.budgets import service as budgets_service
from spectra.budgets.errors import InvalidBudgetError
from spectra.budgets.models import BUDGET_MODES
from spectra.budgets.schemas import KeyBudgetChange, KeyBudgetRead, ProjectReportRead
from spectra.console.deps import AdminDep, ReadSessionDep, SessionDep, ViewerDep
from spectra.console.forms import Form, problems
from spectra.console.i18n import N_, _
from spectra.console.render import redirect, render
from spectra.console.tables import Column, TableSpec
from spectra.kit.pagination import Page

router = APIRouter()


def _key_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        raise InvalidBudgetError(
            f"'{text.strip()[:40]}' is not a key id.", field="key_id"
        ) from None


def _when(text: str | None) -> datetime | None:
    if not text or not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidBudgetError(
            "Give the expiry as a date and time, e.g. 2026-12-31T18:00+00:00.", field="expires_at"
        ) from None
    if moment.tzinfo is None:
        raise InvalidBudgetError("Give the expiry with its time zone (+00:00).", field="expires_at")
    return moment


KEY_BUDGETS = TableSpec(
    "key-budgets",
    (
        Column("key", "Key", "key_id"),
        Column("day", "Day", "day_micros", kind="money"),
        Column("week", "Week", "week_micros", kind="money"),
        Column("month", "Month", "month_micros", kind="money"),
        Column("mode", "Mode"),
        Column("rpm", "RPM", kind="num"),
        Column("tpm", "TPM", kind="num"),
        Column("open", "Open", "concurrency", kind="num"),
        Column("models", "Models", lambda b: ", ".join(b.models) or "any"),
        Column("clients", "Clients", lambda b: ", ".join(b.clients) or "any"),
        Column("actions", "", kind="action"),
    ),
    empty=N_("No key budget yet: set one below with the key's id (from the member's page)."),
    prefix="k",
)
"""Key budgets: the budgets service answers them whole (up to 500), sorted here in memory."""

EXTENSIONS = TableSpec(
    "extensions",
    (
        Column("asked", "Asked", "created_at", kind="when"),
        Column("by", "By", "requested_by_label"),
        Column("for", "For", lambda e: str(e.key_id or e.project_id or ""), sortable=False),
        Column("amount", "Amount", "amount_micros", kind="money"),
        Column("reason", "Reason"),
        Column("status", "Status"),
        Column("actions", "", kind="action"),
    ),
    empty=N_(
        "No extension requests: members ask from their budgets page when a budget stops them."
    ),
    prefix="x",
)
"""Budget extension requests, sorted, filtered and paged by the budgets service."""


@router.get("/budgets")
async def budgets(request: Request, viewer: AdminDep, session: ReadSessionDep) -> Response:
    rows = await budgets_service.list_key_budgets(session, viewer.actor, limit=500)
    extensions = await budgets_service.list_extensions(
        session, viewer.actor, listing=EXTENSIONS.query(request)
    )
    budgets_table = KEY_BUDGETS.build(
        request, [KeyBudgetRead.model_validate(r) for r in rows.items]
    )
    extensions_table = EXTENSIONS.show(request, extensions)
    return (
        budgets_table.csv()
        or extensions_table.csv()
        or render(
            request,
            viewer,
            "budgets/index.html",
            title=_("Budgets"),
            nav="Budgets",
            budgets_table=budgets_table,
            extensions_table=extensions_table,
            modes=BUDGET_MODES,
        )
    )


@router.post("/budgets/keys")
async def set_key_budget(request: Request, viewer: AdminDep, session: SessionDep) -> Response:
    form = await Form.read(request)
    raw: dict[str, Any] = {"mode": form.get("mode") or "hard"}
    for name in ("day", "week", "month"):
        text = (form.get(name) or "").strip()
        raw[name] = None if not text or text.lower() == "none" else text
    for name in ("rpm", "tpm", "concurrency"):
        raw[name] = form.optional_int(name, label=name.upper())
    raw["models"] = form.words("models")
    raw["clients"] = form.words("clients")
    try:
        change = KeyBudgetChange.model_validate(raw)
    except ValidationError as exc:
        return redirect(
            "/console/budgets",
            error=_("The budget was not set: %(problems)s", problems=problems(exc)),
        )
    key_id = _key_id(form["key_id"])
    await budgets_service.set_key_budget(session, viewer.actor, key_id=key_id, changes=change)
    return redirect("/console/budgets", ok=_("Set the budget of key %(key_id)s.", key_id=key_id))


@router.post("/budgets/keys/{key_id}/clear")
async def clear_key_budget(key_id: uuid.UUID, viewer: AdminDep, session: SessionDep) -> Response:
    await budgets_service.clear_key_budget(session, viewer.actor, key_id=key_id)
    return redirect(
        "/console/budgets", ok=_("Removed the budget of key %(key_id)s.", key_id=key_id)
    )


@router.post("/budgets/extensions/{extension_id}/approve")
async def approve_extension(
    extension_id: uuid.UUID, request: Request, viewer: AdminDep, session: SessionDep
) -> Response:
    form = await Form.read(request)
    row = await budgets_service.decide_extension(
        session,
        viewer.actor,
        extension_id=extension_id,
        approve=True,
        expires_at=_when(form.get("expires_at")),
    )
    return redirect(
        "/console/budgets",
        ok=_(
            "Approved until %(expires_at)s UTC.",
            expires_at=format(row.expires_at, "%Y-%m-%d %H:%M"),
        ),
    )


@router.post("/budgets/extensions/{extension_id}/reject")
async def reject_extension(
    extension_id: uuid.UUID, viewer: AdminDep, session: SessionDep
) -> Response:
    await budgets_service.decide_extension(
        session, viewer.actor, extension_id=extension_id, approve=False
    )
    return redirect("/console/budgets", ok=_("Rejected the extension request."))


@router.get("/projects")
async def projects(request: Request, viewer: AdminDep, session: ReadSessionDep) -> Response:
    page = await projects_service.list_projects(
        session, viewer.actor, limit=100, cursor=request.query_params.get("cursor")
    )
    return render(
        request,
        viewer,
        "budgets/projects.html",
        title=_("Projects"),
        nav="Budgets",
        page=page,
        modes=BUDGET_MODES,
    )


@router.post("/projects")
async def create_project(request: Request, viewer: AdminDep, session: SessionDep) -> Response:
    form = await Form.read(request)
    view = await projects_service.create_project(
        session,
        viewer.actor,
        name=form["name"],
        budget_micros=form.optional_amount("budget", label="Monthly budget") or None,
        mode=_mode(form.get("mode")),
        header_allowed=form.flag("header_allowed"),
    )
    return redirect(
        f"/console/projects/{view.name}", ok=_("Created project %(name)s.", name=view.name)
    )


def _mode(text: str | None) -> str:
    mode = (text or "hard").strip()
    if mode not in BUDGET_MODES:
        raise InvalidBudgetError("The mode is hard, soft or approval.", field="mode")
    return mode


@router.get("/projects/{name}")
async def project(
    name: str, request: Request, viewer: AdminDep, session: ReadSessionDep
) -> Response:
    view = await projects_service.show_project(session, viewer.actor, name=name)
    report = await projects_service.project_report(session, viewer.actor, name=name)
    return render(
        request,
        viewer,
        "budgets/project.html",
        title=_("Project %(name)s", name=view.name),
        nav="Budgets",
        project=view,
        report=ProjectReportRead.model_validate(report),
        modes=BUDGET_MODES,
    )


@router.post("/projects/{name}/budget")
async def project_budget(
    name: str, request: Request, viewer: AdminDep, session: SessionDep
) -> Response:
    form = await Form.read(request)
    await projects_service.set_project_budget(
        session,
        viewer.actor,
        name=name,
        fields={"budget", "mode", "header_allowed"},
        budget_micros=form.optional_amount("budget", label="Monthly budget") or None,
        mode=_mode(form.get("mode")),
        header_allowed=form.flag("header_allowed"),
    )
    return redirect(f"/console/projects/{name}", ok=_("Saved the project's budget."))


@router.post("/projects/{name}/members")
async def add_member(
    name: str, request: Request, viewer: AdminDep, session: SessionDep
) -> Response:
    form = await Form.read(request)
    await projects_service.add_member(session, viewer.actor, name=name, email=form["email"])
    return redirect(
        f"/console/projects/{name}", ok=_("Added %(form)s.", form=form["email"].strip())
    )


@router.post("/projects/{name}/keys")
async def add_key(name: str, request: Request, viewer: AdminDep, session: SessionDep) -> Response:
    form = await Form.read(request)
    key_id = _key_id(form["key_id"])
    await projects_service.add_key(session, viewer.actor, name=name, key_id=key_id)
    return redirect(
        f"/console/projects/{name}",
        ok=_("Key %(key_id)s now belongs to %(name)s.", key_id=key_id, name=name),
    )


@router.post("/projects/{name}/remove")
async def remove(name: str, request: Request, viewer: AdminDep, session: SessionDep) -> Response:
    form = await Form.read(request)
    key_text = form.get("key_id")
    await projects_service.remove(
        session,
        viewer.actor,
        name=name,
        email=form.get("email") or None,
        key_id=_key_id(key_text) if key_text else None,
    )
    if form.get("email") or key_text:
        return redirect(f"/console/projects/{name}", ok=_("Removed it from the project."))
    return redirect("/console/projects", ok=_("Removed project %(name)s.", name=name))


@router.get("/me/budgets")
async def my_budgets(request: Request, viewer: ViewerDep, session: ReadSessionDep) -> Response:
    rows = await budgets_service.list_key_budgets(session, viewer.actor, limit=100)
    mine: Page[Any] = await projects_service.list_projects(session, viewer.actor, limit=100)
    extensions = await budgets_service.list_extensions(session, viewer.actor, limit=20)
    return render(
        request,
        viewer,
        "me/budgets.html",
        title=_("My budgets"),
        nav="Me",
        budgets=[KeyBudgetRead.model_validate(r) for r in rows.items],
        projects=mine.items,
        extensions=extensions.items,
    )


@router.post("/me/budgets/extensions")
async def request_extension(request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    form = await Form.read(request)
    key_text = form.get("key_id")
    await budgets_service.request_extension(
        session,
        viewer.actor,
        amount_micros=form.amount("amount", label="Amount"),
        key_id=_key_id(key_text) if key_text else None,
        project=form.get("project") or None,
        reason=form.get("reason") or "",
    )
    return redirect("/console/me/budgets", ok=_("Asked for an extension; an admin will decide."))
