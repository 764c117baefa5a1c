"""Alert rows: the race-safe alert insert (unique dedupe key), the outbox claim (SKIP LOCKED on
PostgreSQL, a conditional UPDATE everywhere), and the reads the detectors need."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from spectra.alerts.models import (
    Alert,
    AlertChannel,
    AlertDelivery,
    AlertRule,
    DeliveryStatus,
    Notification,
)


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _insert(session: AsyncSession, table: Any) -> Any:
    if _dialect(session) == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


async def insert_alert(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert an alert unless its dedupe key exists (here or in a concurrent transaction that
    commits first); True when this call inserted it."""
    stmt = (
        _insert(session, Alert)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
    )
    result = await session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def existing_dedupe_keys(session: AsyncSession, keys: Sequence[str]) -> set[str]:
    if not keys:
        return set()
    rows = await session.execute(select(Alert.dedupe_key).where(Alert.dedupe_key.in_(list(keys))))
    return set(rows.scalars().all())


async def matching_rules(session: AsyncSession, event: str) -> Sequence[AlertRule]:
    return (
        (await session.execute(select(AlertRule).where(AlertRule.event == event))).scalars().all()
    )


async def channels_by_id(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, AlertChannel]:
    if not ids:
        return {}
    rows = await session.execute(select(AlertChannel).where(AlertChannel.id.in_(list(ids))))
    return {c.id: c for c in rows.scalars().all()}


async def add_notifications(
    session: AsyncSession, alert_id: uuid.UUID, user_ids: Sequence[uuid.UUID], at: datetime
) -> None:
    if not user_ids:
        return
    from spectra.kit.ids import uuid7

    stmt = _insert(session, Notification).on_conflict_do_nothing(
        index_elements=["user_id", "alert_id"]
    )
    await session.execute(
        stmt,
        [
            {"id": uuid7(), "user_id": u, "alert_id": alert_id, "created_at": at, "read_at": None}
            for u in dict.fromkeys(user_ids)
        ],
    )


async def due_delivery_ids(session: AsyncSession, *, now: datetime, limit: int) -> list[uuid.UUID]:
    """Pending deliveries whose time has come, oldest first. On PostgreSQL the rows are locked
    with SKIP LOCKED, so concurrent claimers each get different rows."""
    stmt: Select[Any] = (
        select(AlertDelivery.id)
        .where(AlertDelivery.status == DeliveryStatus.PENDING, AlertDelivery.next_attempt_at <= now)
        .order_by(AlertDelivery.next_attempt_at, AlertDelivery.id)
        .limit(limit)
    )
    if _dialect(session) == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list((await session.execute(stmt)).scalars().all())


async def claim(
    session: AsyncSession, delivery_id: uuid.UUID, *, now: datetime, until: datetime
) -> bool:
    """Move a due delivery's next attempt to `until` (the claim); False when another claimer
    got it first. The claim lapses by itself if this process dies before recording an outcome."""
    result = await session.execute(
        update(AlertDelivery)
        .where(
            AlertDelivery.id == delivery_id,
            AlertDelivery.status == DeliveryStatus.PENDING,
            AlertDelivery.next_attempt_at <= now,
        )
        .values(next_attempt_at=until)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def deliveries_with_alerts(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> list[tuple[AlertDelivery, Alert | None, AlertChannel | None]]:
    rows = await session.execute(
        select(AlertDelivery, Alert, AlertChannel)
        .outerjoin(Alert, Alert.id == AlertDelivery.alert_id)
        .outerjoin(AlertChannel, AlertChannel.id == AlertDelivery.channel_id)
        .where(AlertDelivery.id.in_(list(ids)))
        .order_by(AlertDelivery.created_at, AlertDelivery.id)
    )
    return [(d, a, c) for d, a, c in rows.all()]


async def unread_count(session: AsyncSession, user_id: uuid.UUID) -> int:
    total = await session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
    )
    return int(total or 0)


async def mark_read(
    session: AsyncSession, user_id: uuid.UUID, *, at: datetime, alert_id: uuid.UUID | None
) -> int:
    where = [Notification.user_id == user_id, Notification.read_at.is_(None)]
    if alert_id is not None:
        where.append(Notification.alert_id == alert_id)
    result = await session.execute(
        update(Notification)
        .where(and_(*where))
        .values(read_at=at)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
