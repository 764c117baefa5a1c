"""Raising an alert: the alert row (unique dedupe key), its outbox rows and inbox entries, all in
the caller's transaction; mail to one person; sealing what the outbox keeps."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from spectra.alerts import repository as repo
from spectra.alerts.models import Alert, AlertChannel, AlertDelivery, AlertRule
from spectra.db.serverkey import ServerKeys, get_server_keys
from spectra.db.session import Session, on_commit
from spectra.kit.clock import utc_now
from spectra.kit.ids import uuid7
from spectra.users.models import User
from spectra.users.permissions import Role

INBOX_ROLES = (Role.OWNER.value, Role.ADMIN.value)
"""Every alert lands in these roles' inboxes; a member also gets the alerts about them."""
_kick: Callable[[], None] | None = None


def on_outbox_write(kick: Callable[[], None] | None) -> None:
    """Install what wakes the delivery job after a commit that wrote deliveries (wiring)."""
    global _kick
    _kick = kick


def _after_commit(session: Session) -> None:
    if _kick is not None and not session.info.get("alerts_kick"):
        session.info["alerts_kick"] = True
        on_commit(session, _kick)


def wake_after_commit(session: Session) -> None:
    """Wake the delivery job once the caller's transaction, which wrote deliveries, commits."""
    _after_commit(session)


def seal_target(
    channel_id: uuid.UUID, target: str, keys: ServerKeys | None = None
) -> tuple[str, int]:
    return (keys or get_server_keys()).seal(target, associated=channel_id.bytes)


def unseal_target(channel: AlertChannel) -> str:
    return get_server_keys().unseal(
        channel.target_ciphertext, associated=channel.id.bytes, version=channel.key_version
    )


async def reseal_targets(session: Session, keys: ServerKeys) -> tuple[str, int]:
    """Re-encrypt every channel's target and every sealed body still to be sent under `keys`'
    credential subkey, in the caller's transaction (`spectra secret rotate-credentials`).
    Returns ("alert_channels", how many channels)."""
    channels = (await session.execute(select(AlertChannel).with_for_update())).scalars().all()
    for channel in channels:
        target = unseal_target(channel)
        channel.target_ciphertext, channel.key_version = seal_target(channel.id, target, keys)
    sealed = (
        await session.execute(
            select(AlertDelivery)
            .where(AlertDelivery.body_sealed.is_(True), AlertDelivery.delivered_at.is_(None))
            .with_for_update()
        )
    ).scalars()
    for delivery in sealed:
        delivery.body = seal_target(delivery.id, delivery_body(delivery), keys)[0]
    await session.flush()
    return "alert_channels", len(channels)


def delivery_body(delivery: AlertDelivery) -> str:
    """The text to send (opened when it was stored sealed)."""
    if not delivery.body_sealed:
        return delivery.body
    return get_server_keys().unseal(delivery.body, associated=delivery.id.bytes)


def _quiet_until(rule: AlertRule, now: datetime, time_zone: str) -> datetime:
    """When a delivery under `rule` may go: now, or the end of its quiet hours."""
    start, end = rule.quiet_start_hour, rule.quiet_end_hour
    if start is None or end is None or start == end:
        return now
    local = now.astimezone(ZoneInfo(time_zone))
    hour = local.hour
    quiet = start <= hour < end if start < end else (hour >= start or hour < end)
    if not quiet:
        return now
    until = local.replace(hour=end, minute=0, second=0, microsecond=0)
    if until <= local:
        until += timedelta(days=1)
    return until.astimezone(now.tzinfo)


async def raise_alert(
    session: Session,
    *,
    event: str,
    subject_kind: str,
    subject_id: str | None,
    dedupe_key: str,
    title: str,
    message: str,
    data: dict[str, Any] | None = None,
    threshold_percent: int | None = None,
    member_id: uuid.UUID | None = None,
    group_id: uuid.UUID | None = None,
    channels: list[AlertChannel] | None = None,
    inbox: bool = True,
    time_zone: str = "UTC",
) -> Alert | None:
    """Record an alert once per `dedupe_key` and, in the same transaction, its outbox rows (one
    per channel its rules name) and inbox entries (owners and admins, the member it is about,
    and the roles, groups and people its rules name). None when the key exists already: two
    processes that detect the same crossing write one alert between them."""
    now = utc_now()
    alert_id = uuid7()
    inserted = await repo.insert_alert(
        session,
        {
            "id": alert_id,
            "event": event,
            "subject_kind": subject_kind,
            "subject_id": subject_id,
            "dedupe_key": dedupe_key,
            "threshold_percent": threshold_percent,
            "title": title,
            "message": message,
            "data": data or {},
            "member_id": member_id,
            "group_id": group_id,
            "created_at": now,
        },
    )
    if not inserted:
        return None
    alert = await session.get(Alert, alert_id)
    assert alert is not None
    rules = [
        r
        for r in await repo.matching_rules(session, event)
        if r.threshold_percent is None or r.threshold_percent == threshold_percent
    ]
    targets: dict[uuid.UUID, tuple[AlertChannel, datetime]] = {}
    for channel in channels or []:
        targets[channel.id] = (channel, now)
    by_id = await repo.channels_by_id(session, [r.channel_id for r in rules if r.channel_id])
    for rule in rules:
        named = by_id.get(rule.channel_id) if rule.channel_id else None
        if named is not None and named.is_enabled and named.id not in targets:
            targets[named.id] = (named, _quiet_until(rule, now, time_zone))
    for channel, at in targets.values():
        session.add(
            AlertDelivery(
                alert_id=alert.id,
                channel_id=channel.id,
                kind=channel.kind,
                subject=title[:300],
                body=message,
                body_sealed=False,
                next_attempt_at=at,
                created_at=now,
            )
        )
    if inbox:
        await repo.add_notifications(
            session, alert.id, await _inbox_users(session, alert, rules), now
        )
    await session.flush()
    if targets:
        _after_commit(session)
    return alert


async def _inbox_users(session: Session, alert: Alert, rules: list[AlertRule]) -> list[uuid.UUID]:
    roles = set(INBOX_ROLES) | {r.role for r in rules if r.role}
    groups = {r.group_id for r in rules if r.group_id}
    stmt = select(User.id).where(User.status == "active")
    by_role = (await session.execute(stmt.where(User.role.in_(sorted(roles))))).scalars().all()
    ids = list(by_role)
    if groups:
        ids += (await session.execute(stmt.where(User.group_id.in_(list(groups))))).scalars().all()
    ids += [r.user_id for r in rules if r.user_id]
    if alert.member_id is not None:
        ids.append(alert.member_id)
    return ids


async def queue_email(
    session: Session, *, to: str, subject: str, body: str, secret: bool = False
) -> AlertDelivery:
    """Queue one mail to one person (an invitation, a set-up or reset link) in the caller's
    transaction; the delivery job sends it. With `secret`, the body is stored sealed."""
    delivery_id = uuid7()
    stored = seal_target(delivery_id, body)[0] if secret else body
    delivery = AlertDelivery(
        id=delivery_id,
        kind="email",
        recipient=to,
        subject=subject[:300],
        body=stored,
        body_sealed=secret,
        created_at=utc_now(),
    )
    session.add(delivery)
    await session.flush()
    _after_commit(session)
    return delivery
