"""Admin actions on alert channels and rules (audited), raising an alert (the outbox rows and
inbox entries written in the caller's transaction), delivery history and the inbox."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from spectra.alerts import repository as repo
from spectra.alerts.catalogue import EVENTS
from spectra.alerts.errors import (
    AlertChannelInvalidError,
    AlertChannelNameTakenError,
    AlertChannelNotFoundError,
    AlertRuleInvalidError,
    AlertRuleNotFoundError,
)
from spectra.alerts.models import Alert, AlertChannel, AlertDelivery, AlertRule, Notification
from spectra.alerts.outbox import (
    delivery_body,
    on_outbox_write,
    queue_email,
    raise_alert,
    seal_target,
    unseal_target,
)
from spectra.alerts.schemas import ChannelCreate, RuleCreate
from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db.repository import page_rows
from spectra.db.session import AnySession, Session
from spectra.kit.clock import utc_now
from spectra.kit.ids import uuid7
from spectra.kit.pagination import Page
from spectra.users.permissions import Permission, ReadOnlyTokenError, Role, require
from spectra.users.service import lookup

__all__ = [
    "add_channel",
    "add_rule",
    "delivery_body",
    "on_outbox_write",
    "queue_email",
    "raise_alert",
    "unseal_target",
]

CHANNEL_KINDS = ("email", "slack", "teams", "webhook")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _check_target(kind: str, target: str) -> str:
    value = target.strip()
    if kind == "email":
        if not _EMAIL.match(value):
            raise AlertChannelInvalidError(
                f"'{value[:100]}' is not an email address.", field="target"
            )
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AlertChannelInvalidError(
            f"The {kind} channel needs an http(s) URL (its incoming-webhook address).",
            field="target",
        )
    return value


def _hint(kind: str, target: str) -> str:
    if kind == "email":
        return target
    parts = urlsplit(target)
    return f"{parts.scheme}://{parts.netloc}/…"


def _name_taken(name: str) -> AlertChannelNameTakenError:
    return AlertChannelNameTakenError(f"A channel named '{name}' exists already.", field="name")


def _channel_view(channel: AlertChannel) -> dict[str, Any]:
    """What the audit log keeps of a channel: its kind and hint, never the sealed target."""
    return {"kind": channel.kind, "target": channel.target_hint}


async def _audit(
    session: Session, actor: Actor, action: str, target: AlertChannel | AlertRule, **details: Any
) -> None:
    """Audit an action on a channel (labelled by its name) or a rule (by its event)."""
    if isinstance(target, AlertChannel):
        kind, label = "alert_channel", target.name
    else:
        kind, label = "alert_rule", target.event
    await audit_service.record(
        session,
        actor,
        action,
        target_type=kind,
        target_id=str(target.id),
        target_label=label,
        **details,
    )


async def add_channel(session: Session, actor: Actor, *, data: ChannelCreate) -> AlertChannel:
    """Add a channel; the address or URL is sealed and never returned. Writes an audit event."""
    require(actor, Permission.BUDGETS_WRITE)
    kind = data.kind.strip().lower()
    if kind not in CHANNEL_KINDS:
        raise AlertChannelInvalidError(
            f"'{data.kind}' is not a channel kind; use one of {', '.join(CHANNEL_KINDS)}.",
            field="kind",
        )
    target = _check_target(kind, data.target)
    name = data.name.strip()
    if await session.scalar(select(AlertChannel.id).where(AlertChannel.name == name)):
        raise _name_taken(name)
    channel_id = uuid7()
    sealed, version = seal_target(channel_id, target)
    channel = AlertChannel(
        id=channel_id,
        name=name,
        kind=kind,
        target_ciphertext=sealed,
        key_version=version,
        target_hint=_hint(kind, target),
        is_enabled=True,
    )
    session.add(channel)
    try:
        await session.flush()
    except IntegrityError:
        raise _name_taken(name) from None
    await _audit(
        session,
        actor,
        "alerts.channel.add",
        channel,
        after=_channel_view(channel),
    )
    return channel


async def get_channel(session: AnySession, *, name: str) -> AlertChannel:
    channel = await session.scalar(select(AlertChannel).where(AlertChannel.name == name.strip()))
    if channel is None:
        raise AlertChannelNotFoundError(f"There is no alert channel named '{name}'.")
    return channel


async def list_channels(session: AnySession, actor: Actor) -> Page[AlertChannel]:
    require(actor, Permission.READ_ALL)
    rows = (await session.execute(select(AlertChannel).order_by(AlertChannel.name))).scalars()
    return Page(items=list(rows.all()))


async def remove_channel(session: Session, actor: Actor, *, name: str) -> AlertChannel:
    """Remove a channel and its rules (pending deliveries to it are dropped). Audited."""
    require(actor, Permission.BUDGETS_WRITE)
    channel = await get_channel(session, name=name)
    await session.execute(delete(AlertRule).where(AlertRule.channel_id == channel.id))
    await session.execute(delete(AlertChannel).where(AlertChannel.id == channel.id))
    await _audit(
        session,
        actor,
        "alerts.channel.remove",
        channel,
        before=_channel_view(channel),
    )
    return channel


async def test_channel(session: Session, actor: Actor, *, name: str) -> AlertDelivery:
    """Queue a test message to one channel through the outbox. Writes an audit event."""
    require(actor, Permission.BUDGETS_WRITE)
    channel = await get_channel(session, name=name)
    alert = await raise_alert(
        session,
        event="test",
        subject_kind="channel",
        subject_id=str(channel.id),
        dedupe_key=f"test:{uuid7()}",
        title="Spectra test alert",
        message=f"This is a test of the alert channel '{channel.name}', sent by {actor.label}.",
        data={"channel": channel.name},
        channels=[channel],
        inbox=False,
    )
    assert alert is not None
    delivery = await session.scalar(select(AlertDelivery).where(AlertDelivery.alert_id == alert.id))
    assert delivery is not None
    await _audit(session, actor, "alerts.channel.test", channel)
    return delivery


async def add_rule(session: Session, actor: Actor, *, data: RuleCreate) -> AlertRule:
    """Add a rule: an event (optionally one threshold) to a channel and/or inboxes. Audited."""
    require(actor, Permission.BUDGETS_WRITE)
    spec = EVENTS.get(data.event)
    if spec is None or data.event == "test":
        known = ", ".join(name for name in EVENTS if name != "test")
        raise AlertRuleInvalidError(
            f"'{data.event}' is not an alert event; known events: {known}.", field="event"
        )
    if data.threshold_percent is not None and not spec.is_budget:
        raise AlertRuleInvalidError(
            f"Only budget events take a threshold; '{data.event}' has none.",
            field="threshold_percent",
        )
    if (data.quiet_start_hour is None) != (data.quiet_end_hour is None):
        raise AlertRuleInvalidError(
            "Quiet hours need both a start and an end hour.", field="quiet_end_hour"
        )
    channel = await get_channel(session, name=data.channel) if data.channel else None
    role = data.role.strip().lower() if data.role else None
    if role is not None and role not in {r.value for r in Role}:
        raise AlertRuleInvalidError(f"'{data.role}' is not a role.", field="role")
    group = await lookup.require_group(session, actor, name=data.group) if data.group else None
    user = await lookup.require_user(session, actor, email=data.user) if data.user else None
    if channel is None and role is None and group is None and user is None:
        raise AlertRuleInvalidError(
            "A rule needs a recipient: a channel, a role, a group or a person.", field="channel"
        )
    rule = AlertRule(
        event=data.event,
        threshold_percent=data.threshold_percent,
        channel_id=channel.id if channel else None,
        role=role,
        group_id=group.id if group else None,
        user_id=user.id if user else None,
        quiet_start_hour=data.quiet_start_hour,
        quiet_end_hour=data.quiet_end_hour,
    )
    session.add(rule)
    await session.flush()
    await _audit(session, actor, "alerts.rule.add", rule, after=data.model_dump())
    return rule


async def list_rules(session: AnySession, actor: Actor) -> Page[AlertRule]:
    require(actor, Permission.READ_ALL)
    rows = await session.execute(select(AlertRule).order_by(AlertRule.created_at, AlertRule.id))
    rules = list(rows.scalars().all())
    names = {c.id: c.name for c in (await session.execute(select(AlertChannel))).scalars()}
    return Page(items=rules, extra={"channel_names": names})


async def remove_rule(session: Session, actor: Actor, *, rule_id: uuid.UUID) -> AlertRule:
    require(actor, Permission.BUDGETS_WRITE)
    rule = await session.get(AlertRule, rule_id)
    if rule is None:
        raise AlertRuleNotFoundError(f"There is no alert rule {rule_id}.")
    await session.delete(rule)
    await session.flush()
    await _audit(
        session,
        actor,
        "alerts.rule.remove",
        rule,
        before={"event": rule.event, "threshold_percent": rule.threshold_percent},
    )
    return rule


async def list_alerts(
    session: AnySession, actor: Actor, *, limit: int | None = None, cursor: str | None = None
) -> Page[Alert]:
    require(actor, Permission.READ_ALL)
    return await page_rows(session, Alert, limit=limit, cursor=cursor)


async def list_deliveries(
    session: AnySession,
    actor: Actor,
    *,
    status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[AlertDelivery]:
    """Every outbox row with its outcome, newest first."""
    require(actor, Permission.READ_ALL)
    where = [AlertDelivery.status == status] if status else []
    return await page_rows(session, AlertDelivery, *where, limit=limit, cursor=cursor)


async def inbox(
    session: AnySession, actor: Actor, *, limit: int = 50
) -> tuple[int, list[dict[str, Any]]]:
    """The viewer's notification centre: (unread count, newest entries)."""
    require(actor, Permission.SELF)
    if actor.user_id is None:
        return 0, []
    rows = await session.execute(
        select(Notification, Alert)
        .join(Alert, Alert.id == Notification.alert_id)
        .where(Notification.user_id == actor.user_id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
    )
    items = [
        {
            "id": n.id,
            "alert_id": a.id,
            "event": a.event,
            "title": a.title,
            "message": a.message,
            "created_at": n.created_at,
            "read_at": n.read_at,
        }
        for n, a in rows.all()
    ]
    return await repo.unread_count(session, actor.user_id), items


async def unread_count(session: AnySession, actor: Actor) -> int:
    if actor.user_id is None:
        return 0
    return await repo.unread_count(session, actor.user_id)


async def mark_read(session: Session, actor: Actor, *, alert_id: uuid.UUID | None = None) -> int:
    """Mark the viewer's own notifications read (one, or all). Their own inbox: not audited."""
    require(actor, Permission.SELF)
    if actor.read_only:
        raise ReadOnlyTokenError("This API token is read-only; it cannot mark notifications read.")
    if actor.user_id is None:
        return 0
    return await repo.mark_read(session, actor.user_id, at=utc_now(), alert_id=alert_id)
