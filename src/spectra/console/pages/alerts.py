"""Alerts in the console: channels, rules, raised alerts and the delivery history (admins), and
every viewer's notification centre with its unread count in the header.

URLs: GET /console/alerts, POST /console/alerts/channels, POST /console/alerts/channels/{name}/test,
POST /console/alerts/channels/{name}/remove, POST /console/alerts/rules,
POST /console/alerts/rules/{rule_id}/remove, GET /console/notifications,
GET /console/notifications/unread, POST /console/notifications/read.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import HTMLResponse, Response

from spectra.alerts import service as alerts_service
from spectra.alerts.catalogue import EVENTS
from spectra.alerts.schemas import ChannelCreate, RuleCreate
from spectra.console.deps import AdminDep, ReadSessionDep, SessionDep, ViewerDep
from spectra.console.forms import Form, problems
from spectra.console.i18n import N_, _
from spectra.console.render import redirect, render
from spectra.console.tables import Column, TableSpec

router = APIRouter()

RAISED = TableSpec(
    "alerts-list",
    (
        Column("when", "When", "created_at", kind="when"),
        Column("event", "Event"),
        Column("alert", "Alert", lambda a: f"{a.title}: {a.message}"),
    ),
    empty=N_("No alert yet: add a rule below to be told when one fires."),
    prefix="a",
)
DELIVERIES = TableSpec(
    "alert-deliveries",
    (
        Column("queued", "Queued", "created_at", kind="when"),
        Column("kind", "Kind", lambda d: f"{d.kind} to {d.recipient}" if d.recipient else d.kind),
        Column("subject", "Subject"),
        Column("status", "Status"),
        Column("attempts", "Attempts", kind="num"),
        Column("last_error", "Last error"),
        Column("delivered", "Delivered", "delivered_at", kind="when"),
    ),
    empty=N_("Nothing sent yet: a channel's Test button sends one."),
    prefix="d",
)


@router.get("/alerts")
async def alerts_page(request: Request, viewer: AdminDep, session: ReadSessionDep) -> Response:
    channels = await alerts_service.list_channels(session, viewer.actor)
    rules = await alerts_service.list_rules(session, viewer.actor)
    alerts = await alerts_service.list_alerts(session, viewer.actor, limit=50)
    deliveries = await alerts_service.list_deliveries(
        session,
        viewer.actor,
        status=request.query_params.get("status") or None,
        limit=100,
        cursor=request.query_params.get("cursor") or None,
    )
    raised = RAISED.build(request, alerts.items)
    sent = DELIVERIES.build(request, deliveries.items, deliveries.next_cursor)
    return (
        raised.csv()
        or sent.csv()
        or render(
            request,
            viewer,
            "alerts/index.html",
            title=_("Alerts"),
            nav="Settings",
            channels=channels.items,
            rules=rules.items,
            channel_names=rules.extra["channel_names"],
            raised=raised,
            sent=sent,
            events=[e for e in EVENTS.values() if e.name != "test"],
        )
    )


@router.post("/alerts/channels")
async def add_channel(request: Request, viewer: AdminDep, session: SessionDep) -> Response:
    form = await Form.read(request)
    try:
        data = ChannelCreate(name=form["name"], kind=form["kind"], target=form["target"])
    except ValidationError as exc:
        return redirect(
            "/console/alerts",
            error=_("The channel was not added: %(problems)s.", problems=problems(exc)),
        )
    channel = await alerts_service.add_channel(session, viewer.actor, data=data)
    return redirect("/console/alerts", ok=_("Added the channel %(name)s.", name=channel.name))


@router.post("/alerts/channels/{name}/test")
async def test_channel(name: str, viewer: AdminDep, session: SessionDep) -> Response:
    await alerts_service.test_channel(session, viewer.actor, name=name)
    return redirect(
        "/console/alerts",
        ok=_("A test message to %(name)s is queued; its outcome shows below.", name=name),
    )


@router.post("/alerts/channels/{name}/remove")
async def remove_channel(name: str, viewer: AdminDep, session: SessionDep) -> Response:
    await alerts_service.remove_channel(session, viewer.actor, name=name)
    return redirect("/console/alerts", ok=_("Removed the channel %(name)s.", name=name))


def _hour(form: Form, name: str) -> int | None:
    value = form.get(name)
    return int(value) if value is not None and value.isdigit() else None


@router.post("/alerts/rules")
async def add_rule(request: Request, viewer: AdminDep, session: SessionDep) -> Response:
    form = await Form.read(request)
    threshold = form.get("threshold_percent")
    try:
        data = RuleCreate(
            event=form["event"],
            threshold_percent=int(threshold) if threshold and threshold.isdigit() else None,
            channel=form.get("channel"),
            role=form.get("role"),
            group=form.get("group"),
            user=form.get("user"),
            quiet_start_hour=_hour(form, "quiet_start_hour"),
            quiet_end_hour=_hour(form, "quiet_end_hour"),
        )
    except ValidationError as exc:
        return redirect(
            "/console/alerts",
            error=_("The rule was not added: %(problems)s.", problems=problems(exc)),
        )
    await alerts_service.add_rule(session, viewer.actor, data=data)
    return redirect("/console/alerts", ok=_("Added a rule for %(event)s.", event=data.event))


@router.post("/alerts/rules/{rule_id}/remove")
async def remove_rule(rule_id: uuid.UUID, viewer: AdminDep, session: SessionDep) -> Response:
    await alerts_service.remove_rule(session, viewer.actor, rule_id=rule_id)
    return redirect("/console/alerts", ok=_("Removed the rule."))


@router.get("/notifications")
async def notifications(request: Request, viewer: ViewerDep, session: ReadSessionDep) -> Response:
    unread, items = await alerts_service.inbox(session, viewer.actor, limit=100)
    return render(
        request,
        viewer,
        "alerts/notifications.html",
        title=_("Notifications"),
        nav="Notifications",
        unread=unread,
        items=items,
    )


@router.get("/notifications/unread")
async def unread_badge(viewer: ViewerDep, session: ReadSessionDep) -> Response:
    """The header's unread badge (htmx swaps it in after the page loads)."""
    count = await alerts_service.unread_count(session, viewer.actor)
    badge = f'<span id="unread-count" class="badge" data-unread="{count}">{count}</span>'
    return HTMLResponse(badge if count else '<span id="unread-count" data-unread="0"></span>')


@router.post("/notifications/read")
async def mark_read(request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    form = await Form.read(request)
    raw = form.get("alert_id")
    try:
        alert_id = uuid.UUID(raw) if raw else None
    except ValueError:
        return redirect("/console/notifications", error=_("That is not a notification."))
    marked = await alerts_service.mark_read(session, viewer.actor, alert_id=alert_id)
    return redirect("/console/notifications", ok=_("Marked %(marked)s read.", marked=marked))
