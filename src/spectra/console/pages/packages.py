"""Packages: the catalog, a package's versions and holders, create/edit (a new version)/archive,
assign to one user, bulk assignment (emails or a group) with a preview before applying,
version migration with a preview, CSV import with the line report, cancel an assignment.

URLs: GET/POST /console/packages, GET /console/packages/{name}, POST .../{name}/edit,
POST .../{name}/archive, POST .../{name}/assign, POST .../{name}/bulk (preview=1 previews),
POST .../{name}/migrate (preview=1 previews), GET/POST /console/packages-import,
POST /console/assignments/{id}/cancel.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from spectra.console.deps import AdminDep, ReadSessionDep, SessionDep
from spectra.console.forms import Form, field_errors
from spectra.console.i18n import N_, _
from spectra.console.pages.users import group_options
from spectra.console.render import redirect, render
from spectra.console.tables import Column, TableSpec
from spectra.errors import InvalidError, SpectraError
from spectra.packages import service as packages_service
from spectra.packages.schemas import AssignmentRead, PackageCreate, PackageUpdate, PreviewRead

router = APIRouter()

PERIODS = (
    ("monthly", "monthly"),
    ("weekly", "weekly"),
    ("daily", "daily"),
    ("one_time", N_("one time")),
)
_TERMS = (
    "allowance",
    "period",
    "valid_days",
    "rollover_periods",
    "model_patterns",
    "rpm",
    "tpm",
    "max_concurrent",
    "max_cost_per_request",
    "list_price",
)


def _terms(form: Form, *, partial: bool) -> dict[str, Any]:
    """Package terms from the form, as the API's JSON would carry them (amounts as text)."""
    out: dict[str, Any] = {}
    for name in _TERMS:
        if name == "model_patterns":
            if not partial or form.get("model_patterns") is not None:
                out[name] = form.words(name)
            continue
        value = form.get(name)
        if value is not None:
            out[name] = value
    return out


PACKAGE_COLUMNS = (
    Column("name", "Package", "package.name"),
    Column("status", "Status", "package.status"),
    Column("version", "Version", "package.current_version", kind="num"),
    Column("allowance", "Allowance", "terms.allowance_micros", kind="money"),
    Column("period", "Period", "terms.period"),
    Column("models", "Models", lambda d: ", ".join(d.terms.model_patterns) or "all"),
    Column("rpm", "RPM", "terms.rpm", kind="num"),
    Column("holders", "Holders", "active_assignments", kind="num"),
)
PACKAGES = TableSpec(
    "packages",
    PACKAGE_COLUMNS,
    empty=N_("No packages yet: create one below, then assign it to a group."),
)


async def _catalog(
    request: Request,
    viewer: Any,
    session: Any,
    *,
    status: str | None = None,
    cursor: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    page = await packages_service.list_packages(
        session, viewer.actor, status=status, limit=50, cursor=cursor
    )
    defaults = await packages_service.list_group_defaults(session, viewer.actor)
    table = PACKAGES.build(request, page.items, page.next_cursor)
    return table.csv() or render(
        request,
        viewer,
        "packages/list.html",
        title=_("Packages"),
        nav="Packages",
        table=table,
        defaults=defaults,
        periods=PERIODS,
        errors=errors or {},
        values=values or {},
    )


@router.get("/packages")
async def catalog(
    request: Request,
    viewer: AdminDep,
    session: ReadSessionDep,
    status: str | None = None,
    cursor: str | None = None,
) -> Response:
    return await _catalog(request, viewer, session, status=status or None, cursor=cursor)


@router.post("/packages")
async def create_package(request: Request, viewer: AdminDep, session: SessionDep) -> Response:
    form = await Form.read(request)
    try:
        data = PackageCreate(
            name=form["name"], description=form["description"], **_terms(form, partial=False)
        )
        detail = await packages_service.create_package(session, viewer.actor, data=data)
    except (SpectraError, ValidationError) as exc:
        await session.rollback()
        return await _catalog(
            request,
            viewer,
            session,
            errors=field_errors(exc, default_field="name"),
            values=form.data,
        )
    return redirect(
        f"/console/packages/{detail.package.name}",
        ok=_("Package %(name)s is created.", name=detail.package.name),
    )


async def _show(
    request: Request,
    viewer: Any,
    session: Any,
    name: str,
    *,
    preview: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    cursor: str | None = None,
    status: str | None = "active",
) -> Response:
    detail = await packages_service.get_package(session, viewer.actor, name=name)
    versions = await packages_service.list_versions(session, viewer.actor, name=name)
    holders = await packages_service.list_assignments(
        session, viewer.actor, package=name, status=status, limit=50, cursor=cursor
    )
    return render(
        request,
        viewer,
        "packages/show.html",
        title=_("Package %(name)s", name=detail.package.name),
        nav="Packages",
        detail=detail,
        versions=versions,
        holders=[AssignmentRead.model_validate(d) for d in holders.items],
        next_cursor=holders.next_cursor,
        groups=await group_options(session, viewer.actor),
        periods=PERIODS,
        preview=preview,
        errors=errors or {},
    )


@router.get("/packages/{name}")
async def show_package(
    name: str,
    request: Request,
    viewer: AdminDep,
    session: ReadSessionDep,
    cursor: str | None = None,
    status: str | None = "active",
) -> Response:
    return await _show(request, viewer, session, name, cursor=cursor, status=status or None)


@router.post("/packages/{name}/edit")
async def edit_package(
    name: str, request: Request, viewer: AdminDep, session: SessionDep
) -> Response:
    form = await Form.read(request)
    try:
        data = PackageUpdate(
            description=form.get("description"), note=form["note"], **_terms(form, partial=True)
        )
        detail = await packages_service.edit_package(session, viewer.actor, name=name, data=data)
    except (SpectraError, ValidationError) as exc:
        await session.rollback()
        return await _show(
            request, viewer, session, name, errors=field_errors(exc, default_field="allowance")
        )
    return redirect(
        f"/console/packages/{detail.package.name}",
        ok=_(
            "Saved; %(name)s is at version %(current_version)s.",
            name=detail.package.name,
            current_version=detail.package.current_version,
        ),
    )


@router.post("/packages/{name}/archive")
async def archive_package(name: str, viewer: AdminDep, session: SessionDep) -> Response:
    await packages_service.archive_package(session, viewer.actor, name=name)
    return redirect(f"/console/packages/{name}", ok=_("%(name)s is archived.", name=name))


@router.post("/packages/{name}/assign")
async def assign_one(
    name: str, request: Request, viewer: AdminDep, session: SessionDep
) -> Response:
    form = await Form.read(request)
    (user,) = await packages_service.resolve_users(session, viewer.actor, emails=[form["email"]])
    await packages_service.assign_package(
        session,
        viewer.actor,
        package=name,
        user_id=user.id,
        reason=form["reason"] or "assigned in the console",
    )
    return redirect(
        f"/console/packages/{name}",
        ok=_("%(name)s is assigned to %(email)s.", name=name, email=user.email),
    )


@router.post("/packages/{name}/bulk")
async def assign_bulk(
    name: str, request: Request, viewer: AdminDep, session: SessionDep
) -> Response:
    """Preview (`preview=1`) shows who gains, changes or stays; the confirm form applies it."""
    form = await Form.read(request)
    preview = form.flag("preview")
    window: dict[str, Any] = {"reason": form["reason"] or "bulk assignment", "preview": preview}
    group = form.get("group")
    emails = form.words("emails")
    if group and emails:
        raise InvalidError("Name either a group or users, not both.")
    if group:
        result = await packages_service.assign_group(
            session, viewer.actor, package=name, group=group, **window
        )
    elif emails:
        users = await packages_service.resolve_users(session, viewer.actor, emails=emails)
        result = await packages_service.assign_many(
            session, viewer.actor, package=name, users=users, **window
        )
    else:
        raise InvalidError("Name users (emails) or a group.")
    read = PreviewRead.model_validate(result)
    if preview:
        await session.rollback()
        return await _show(
            request,
            viewer,
            session,
            name,
            preview={
                "kind": "bulk",
                "result": read,
                "fields": {
                    "group": group or "",
                    "emails": ", ".join(emails),
                    "reason": form["reason"],
                },
            },
        )
    return redirect(
        f"/console/packages/{name}",
        ok=_(
            "Assigned: %(gain)s gained, %(change)s changed, %(unchanged)s unchanged.",
            gain=read.gain,
            change=read.change,
            unchanged=read.unchanged,
        ),
    )


@router.post("/packages/{name}/migrate")
async def migrate(name: str, request: Request, viewer: AdminDep, session: SessionDep) -> Response:
    form = await Form.read(request)
    to_version = form.optional_int("to_version", label="To version")
    from_version = form.optional_int("from_version", label="From version")
    if form.flag("preview"):
        result = await packages_service.preview_migration(
            session, viewer.actor, package=name, to_version=to_version, from_version=from_version
        )
        return await _show(
            request,
            viewer,
            session,
            name,
            preview={
                "kind": "migrate",
                "result": PreviewRead.model_validate(result),
                "fields": {
                    "to_version": form["to_version"],
                    "from_version": form["from_version"],
                    "reason": form["reason"],
                },
            },
        )
    result = await packages_service.migrate_assignments(
        session,
        viewer.actor,
        package=name,
        to_version=to_version,
        from_version=from_version,
        reason=form["reason"] or "migrated in the console",
    )
    return redirect(
        f"/console/packages/{name}",
        ok=_("Migrated %(result)s assignments.", result=len(result.rows)),
    )


@router.get("/packages-import")
async def import_page(request: Request, viewer: AdminDep) -> Response:
    return render(
        request,
        viewer,
        "packages/import.html",
        title=_("Import package assignments"),
        nav="Packages",
        csv="",
        report=None,
        previews=None,
    )


@router.post("/packages-import")
async def import_assignments(request: Request, viewer: AdminDep, session: SessionDep) -> Response:
    """`preview=1` validates and shows what would change; a rejected file shows each bad line."""
    form = await Form.read(request)
    text = form.data.get("csv", "")
    upload = (await request.form()).get("file")
    if upload is not None and not isinstance(upload, str):
        text = (await upload.read()).decode("utf-8-sig", errors="replace") or text
    preview = form.flag("preview")
    try:
        results = await packages_service.import_assignments(
            session, viewer.actor, csv_text=text, reason=form["reason"], preview=preview
        )
    except SpectraError as exc:
        await session.rollback()
        return render(
            request,
            viewer,
            "packages/import.html",
            title=_("Import package assignments"),
            nav="Packages",
            csv=text,
            report={"error": exc.message, "rejected": exc.details.get("rejected", [])},
            previews=None,
        )
    if preview:
        return render(
            request,
            viewer,
            "packages/import.html",
            title=_("Import package assignments"),
            nav="Packages",
            csv=text,
            report=None,
            previews=[PreviewRead.model_validate(r) for r in results],
            reason=form["reason"],
        )
    applied = sum(len(r.rows) for r in results)
    return redirect(
        "/console/packages", ok=_("Imported: %(applied)s assignments applied.", applied=applied)
    )


@router.post("/assignments/{assignment_id}/cancel")
async def cancel_assignment(
    assignment_id: uuid.UUID, request: Request, viewer: AdminDep, session: SessionDep
) -> Response:
    form = await Form.read(request)
    when: Literal["now", "period_end"] = "now" if form["when"] == "now" else "period_end"
    detail = await packages_service.cancel_assignment(
        session, viewer.actor, assignment_id=assignment_id, when=when, reason=form["reason"]
    )
    return redirect(
        f"/console/users/{detail.assignment.user_id}",
        ok=_(
            "%(package_name)s is cancelled (%(now)s).",
            package_name=detail.package_name,
            now="now" if when == "now" else "at period end",
        ),
    )
