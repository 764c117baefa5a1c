"""Staged rollouts: the list, one rollout with its cohorts and per-cohort metrics (before and
after each promotion), and the promote / roll back actions (confirmed, CSRF-checked) through the
same service functions as /api/rollouts.

URLs: GET /console/rollouts, GET /console/rollouts-new (the create form), POST /console/rollouts,
GET /console/rollouts/{rollout} (with its autopilot timeline), POST /console/rollouts/{rollout}/promote,
POST /console/rollouts/{rollout}/rollback, POST /console/rollouts/{rollout}/autopilot (on/off),
POST /console/rollouts/{rollout}/approve (the next wave, for the autopilot),
POST /console/rollouts/{rollout}/owner, POST /console/rollouts/{rollout}/watchers (add or remove).
The timeline's gate readings are drawn as inline SVG charts (console/rollout_chart.py).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from spectra.console.deps import AdminDep, ReadSessionDep, SessionDep, Viewer
from spectra.console.forms import Form, field_errors
from spectra.console.i18n import N_, _
from spectra.console.pages.users import group_options, package_options
from spectra.console.render import redirect, render
from spectra.console.rollout_chart import gate_charts
from spectra.console.tables import Column, TableSpec
from spectra.db.session import ReadSession
from spectra.errors import ErrorKind, SpectraError
from spectra.policy import drafts as drafts_service
from spectra.policy import rollout_people, rollout_timeline
from spectra.policy import rollouts as rollouts_service
from spectra.policy.errors import RolloutExistsError
from spectra.policy.schemas import RolloutCreate, rate_bp

router = APIRouter()

ROLLOUT_COLUMNS = (
    Column("name", "Name"),
    Column("status", "Status"),
    Column("goal", "Goal"),
    Column("min_days", "Min days", kind="num"),
    Column("max_error_rate", "Max error %", kind="num"),
    Column("max_refusal_rate", "Max refusal %", kind="num"),
    Column("created_at", "Created", kind="when"),
    Column("created_by", "By"),
)
ROLLOUTS = TableSpec(
    "rollouts", ROLLOUT_COLUMNS, empty=N_("No rollouts yet: start one with New rollout.")
)


@router.get("/rollouts")
async def list_rollouts(
    request: Request, viewer: AdminDep, session: ReadSessionDep, cursor: str | None = None
) -> Response:
    page = await rollouts_service.list_rollouts(session, viewer.actor, limit=50, cursor=cursor)
    table = ROLLOUTS.build(
        request, [rollouts_service.rollout_view(r) for r in page.items], page.next_cursor
    )
    return table.csv() or render(
        request, viewer, "rollouts/list.html", title=_("Rollouts"), nav="Rollouts", table=table
    )


@router.get("/rollouts/{rollout}")
async def show_rollout(
    request: Request, viewer: AdminDep, session: ReadSessionDep, rollout: str, days: int = 7
) -> Response:
    days = max(1, min(90, days))
    metrics = await rollouts_service.rollout_metrics(
        session, viewer.actor, rollout=rollout, days=days
    )
    history = await rollout_timeline.timeline(session, viewer.actor, rollout=rollout)
    name = metrics["rollout"]["name"]
    return render(
        request,
        viewer,
        "rollouts/show.html",
        title=_("Rollout %(metrics)s", metrics=metrics["rollout"]["name"]),
        nav="Rollouts",
        rollout=metrics["rollout"],
        cohorts=metrics["cohorts"],
        days=days,
        events=list(reversed(history["events"])),
        charts=gate_charts(history["events"], name),
        people=await rollout_people.people(session, viewer.actor, rollout=rollout),
    )


def _back(rollout: str) -> str:
    return f"/console/rollouts/{quote(rollout, safe='')}"


@router.post("/rollouts/{rollout}/promote")
async def promote(
    request: Request, viewer: AdminDep, session: SessionDep, rollout: str
) -> Response:
    """Publishes the cohort's latest dry-run draft; without one, only when confirmed."""
    form = await Form.read(request)
    cohort = await drafts_service.promote_cohort(
        session,
        viewer.actor,
        rollout=rollout,
        cohort=form.get("cohort") or None,
        confirm_without_dry_run=form.flag("confirm_without_dry_run"),
    )
    return redirect(_back(rollout), ok=_("Cohort %(name)s is promoted.", name=cohort.name))


@router.post("/rollouts/{rollout}/rollback")
async def rollback(
    request: Request, viewer: AdminDep, session: SessionDep, rollout: str
) -> Response:
    form = await Form.read(request)
    cohort = await rollouts_service.rollback(
        session, viewer.actor, rollout=rollout, cohort=form.get("cohort") or None
    )
    return redirect(_back(rollout), ok=_("Cohort %(name)s is rolled back.", name=cohort.name))


@router.post("/rollouts/{rollout}/autopilot")
async def autopilot(
    request: Request, viewer: AdminDep, session: SessionDep, rollout: str
) -> Response:
    """Switch the autopilot on (resuming a paused rollout) or off; its settings stay as set
    through the API or CLI."""
    form = await Form.read(request)
    on = form.get("state") == "on"
    await rollout_timeline.set_autopilot(session, viewer.actor, rollout=rollout, on=on)
    return redirect(_back(rollout), ok=_("Autopilot is %(on)s.", on="on" if on else "off"))


@router.post("/rollouts/{rollout}/approve")
async def approve(
    request: Request, viewer: AdminDep, session: SessionDep, rollout: str
) -> Response:
    """Approve the next wave for the autopilot (needed above its approval size)."""
    await Form.read(request)
    event = await rollout_timeline.approve_next(session, viewer.actor, rollout=rollout)
    return redirect(
        _back(rollout),
        ok=_("Cohort %(cohort)s is approved for the autopilot.", cohort=event.cohort),
    )


@router.post("/rollouts/{rollout}/owner")
async def set_owner(
    request: Request, viewer: AdminDep, session: SessionDep, rollout: str
) -> Response:
    """Set the owner by email; a blank email clears it."""
    form = await Form.read(request)
    email = form.get("user") or None
    await rollout_people.set_owner(session, viewer.actor, rollout=rollout, user=email)
    return redirect(_back(rollout), ok=f"The owner is {email}." if email else "No owner now.")


@router.post("/rollouts/{rollout}/watchers")
async def watchers(
    request: Request, viewer: AdminDep, session: SessionDep, rollout: str
) -> Response:
    """Add a watcher by email, or remove one (`action=remove`)."""
    form = await Form.read(request)
    email = form.get("user") or ""
    if form.get("action") == "remove":
        await rollout_people.remove_watcher(session, viewer.actor, rollout=rollout, user=email)
        return redirect(
            _back(rollout), ok=_("%(email)s no longer watches this rollout.", email=email)
        )
    await rollout_people.add_watcher(session, viewer.actor, rollout=rollout, user=email)
    return redirect(_back(rollout), ok=_("%(email)s watches this rollout.", email=email))


COHORT_SLOTS = 4
"""Cohort fieldsets on the create form; blank ones are ignored (more through the API or CLI)."""

_COHORT_FIELDS = ("name", "groups", "users", "models", "package", "monthly_cap", "member_cap")


def _cohort_field(index: int, name: str) -> str:
    return f"cohort{index}_{name}"


def _rollout_body(form: Form) -> dict[str, Any]:
    """The form as the body `RolloutCreate` takes (the same shape as POST /api/rollouts)."""
    cohorts: list[dict[str, Any]] = []
    slots: list[int] = []
    for index in range(COHORT_SLOTS):
        values = {name: form[_cohort_field(index, name)] for name in _COHORT_FIELDS}
        everyone = form.flag(_cohort_field(index, "everyone"))
        if not any(values.values()) and not everyone:
            continue
        cohort: dict[str, Any] = {
            "name": values["name"],
            "groups": form.words(_cohort_field(index, "groups")),
            "users": form.words(_cohort_field(index, "users")),
            "models": form.words(_cohort_field(index, "models")),
            "everyone": everyone,
        }
        if values["package"]:
            cohort["package"] = values["package"]
        for cap, label in (("monthly_cap", "Group monthly cap"), ("member_cap", "Per-member cap")):
            form.optional_amount(_cohort_field(index, cap), label=label)  # names its field
        if values["monthly_cap"]:
            cohort["monthly_cap"] = values["monthly_cap"]
        if values["member_cap"]:
            cohort["member_monthly_cap"] = values["member_cap"]
        cohorts.append(cohort)
        slots.append(index)
    body: dict[str, Any] = {"name": form["name"], "goal": form["goal"], "cohorts": cohorts}
    body["min_days"] = form.optional_int("min_days", label="Days between cohorts")
    for name in ("max_error_rate", "max_refusal_rate"):
        if form[name]:
            try:
                rate_bp(form[name], name)
            except SpectraError as exc:
                exc.details["field"] = name
                raise
            body[name] = form[name]
    body["_slots"] = slots
    return body


_COHORT_NAMES = {"monthly_cap": "monthly_cap", "member_monthly_cap": "member_cap"}


def _rollout_errors(exc: Exception, slots: list[int]) -> dict[str, str]:
    """Per-field messages; a cohort's field is named after its fieldset on the form."""
    if not isinstance(exc, ValidationError):
        errors = field_errors(exc, default_field="_form")
        if isinstance(exc, RolloutExistsError):
            errors = {"name": exc.message}
        return errors
    errors = {}
    for error in exc.errors():
        loc = list(error.get("loc") or ("_form",))
        message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
        if loc[0] == "cohorts" and len(loc) >= 3 and isinstance(loc[1], int):
            field = _cohort_field(slots[loc[1]], _COHORT_NAMES.get(str(loc[2]), str(loc[2])))
        elif loc[0] == "cohorts":
            field, message = "cohort0_name", "Name at least one cohort."
        else:
            field = str(loc[0])
        errors.setdefault(field, message)
    return errors


async def _create_page(
    request: Request,
    viewer: Viewer,
    session: ReadSession,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        viewer,
        "rollouts/new.html",
        status_code=status_code,
        title=_("New rollout"),
        nav="Rollouts",
        slots=range(COHORT_SLOTS),
        filled={
            index
            for index in range(COHORT_SLOTS)
            for name in (*_COHORT_FIELDS, "everyone")
            if (values or {}).get(_cohort_field(index, name))
            or _cohort_field(index, name) in (errors or {})
        },
        groups=await group_options(session, viewer.actor),
        packages=await package_options(session, viewer.actor),
        errors=errors or {},
        values=values or {},
    )


@router.get("/rollouts-new")
async def new_rollout(request: Request, viewer: AdminDep, session: ReadSessionDep) -> Response:
    """The create form: name, goal, gates, and up to `COHORT_SLOTS` cohorts in order."""
    return await _create_page(request, viewer, session)


@router.post("/rollouts")
async def create_rollout(request: Request, viewer: AdminDep, session: SessionDep) -> Response:
    """Create a rollout (nothing applies until a promotion); errors show next to their field."""
    form = await Form.read(request)
    slots: list[int] = []
    try:
        body = _rollout_body(form)
        slots = body.pop("_slots")
        data = RolloutCreate.model_validate(body)
        detail = await rollouts_service.create_rollout(session, viewer.actor, data=data)
    except (SpectraError, ValidationError) as exc:
        if isinstance(exc, SpectraError) and exc.kind == ErrorKind.FORBIDDEN:
            raise
        await session.rollback()
        return await _create_page(
            request,
            viewer,
            ReadSession(session),
            errors=_rollout_errors(exc, slots),
            values=form.data,
            status_code=422,
        )
    name = detail.rollout.name
    return redirect(
        _back(name),
        ok=_("Rollout %(name)s is created; nothing applies until a promotion.", name=name),
    )
