"""/api/alerts: the event catalogue, channels (targets sealed, never returned), rules, alert and
delivery history; /api/me/notifications: the caller's own inbox."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from spectra.alerts import service as alerts_service
from spectra.alerts.catalogue import EVENTS
from spectra.alerts.schemas import (
    AlertRead,
    ChannelCreate,
    ChannelRead,
    ChannelTestResult,
    DeliveryRead,
    EventRead,
    InboxRead,
    MarkReadRequest,
    MarkReadResult,
    NotificationRead,
    RuleCreate,
    RuleRead,
)
from spectra.api.deps import ActorDep, ReadSessionDep, SessionDep
from spectra.kit.pagination import ListResource
from spectra.users.permissions import Permission, require

router = APIRouter(tags=["alerts"])


@router.get("/alerts/events")
async def list_events(actor: ActorDep) -> ListResource[EventRead]:
    """Every event a rule may name."""
    require(actor, Permission.READ_ALL)
    items = [
        EventRead(name=e.name, description=e.description, is_budget=e.is_budget)
        for e in EVENTS.values()
        if e.name != "test"
    ]
    return ListResource[EventRead](items=items)


@router.get("/alerts/channels")
async def list_channels(session: ReadSessionDep, actor: ActorDep) -> ListResource[ChannelRead]:
    return ListResource[ChannelRead].model_validate(
        await alerts_service.list_channels(session, actor)
    )


@router.post("/alerts/channels", status_code=201)
async def add_channel(body: ChannelCreate, session: SessionDep, actor: ActorDep) -> ChannelRead:
    return ChannelRead.model_validate(await alerts_service.add_channel(session, actor, data=body))


@router.delete("/alerts/channels/{name}", status_code=204)
async def remove_channel(name: str, session: SessionDep, actor: ActorDep) -> None:
    await alerts_service.remove_channel(session, actor, name=name)


@router.post("/alerts/channels/{name}/test", status_code=202)
async def test_channel(name: str, session: SessionDep, actor: ActorDep) -> ChannelTestResult:
    """Queue a test message to the channel; its outcome shows in the delivery history."""
    delivery = await alerts_service.test_channel(session, actor, name=name)
    return ChannelTestResult(
        delivery_id=delivery.id, status=delivery.status, last_error=delivery.last_error
    )


@router.get("/alerts/rules")
async def list_rules(session: ReadSessionDep, actor: ActorDep) -> ListResource[RuleRead]:
    page = await alerts_service.list_rules(session, actor)
    names = page.extra["channel_names"]
    items = [
        RuleRead.model_validate(r).model_copy(update={"channel_name": names.get(r.channel_id)})
        for r in page.items
    ]
    return ListResource[RuleRead](items=items)


@router.post("/alerts/rules", status_code=201)
async def add_rule(body: RuleCreate, session: SessionDep, actor: ActorDep) -> RuleRead:
    rule = await alerts_service.add_rule(session, actor, data=body)
    return RuleRead.model_validate(rule).model_copy(update={"channel_name": body.channel})


@router.delete("/alerts/rules/{rule_id}", status_code=204)
async def remove_rule(rule_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> None:
    await alerts_service.remove_rule(session, actor, rule_id=rule_id)


@router.get("/alerts")
async def list_alerts(
    session: ReadSessionDep, actor: ActorDep, limit: int | None = None, cursor: str | None = None
) -> ListResource[AlertRead]:
    """Raised alerts, newest first."""
    return ListResource[AlertRead].model_validate(
        await alerts_service.list_alerts(session, actor, limit=limit, cursor=cursor)
    )


@router.get("/alerts/deliveries")
async def list_deliveries(
    session: ReadSessionDep,
    actor: ActorDep,
    status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> ListResource[DeliveryRead]:
    """The outbox: every delivery with its outcome (pending, delivered, failed), newest first."""
    return ListResource[DeliveryRead].model_validate(
        await alerts_service.list_deliveries(
            session, actor, status=status, limit=limit, cursor=cursor
        )
    )


@router.get("/me/notifications")
async def my_notifications(session: ReadSessionDep, actor: ActorDep) -> InboxRead:
    """The caller's notification centre: unread count and the newest entries."""
    unread, items = await alerts_service.inbox(session, actor)
    return InboxRead(unread=unread, items=[NotificationRead.model_validate(i) for i in items])


@router.post("/me/notifications/read")
async def mark_read(body: MarkReadRequest, session: SessionDep, actor: ActorDep) -> MarkReadResult:
    """Mark one of the caller's notifications read, or all of them."""
    return MarkReadResult(
        marked=await alerts_service.mark_read(session, actor, alert_id=body.alert_id)
    )
