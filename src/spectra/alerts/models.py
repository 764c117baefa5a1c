"""Alert channels and rules (admin-managed), alerts (one per dedupe key), their outbox of
deliveries and the per-user inbox."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from spectra.db.base import Base, IdMixin, TimestampMixin
from spectra.kit.clock import utc_now


class AlertChannel(IdMixin, TimestampMixin, Base):
    """Where alerts go: an email address, a Slack or Teams incoming webhook, a signed webhook."""

    __tablename__ = "alert_channels"

    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    """`email`, `slack`, `teams` or `webhook`."""
    target_ciphertext: Mapped[str] = mapped_column(String(4000))
    """The address or URL, AES-GCM under the credential subkey bound to the channel id (a Slack
    or Teams webhook URL is itself a credential); never returned."""
    target_hint: Mapped[str] = mapped_column(String(200))
    """What the console shows: the address, or the URL's host with the path hidden."""
    key_version: Mapped[int] = mapped_column(Integer)
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class AlertRule(IdMixin, TimestampMixin, Base):
    """Who receives an event: a channel, and/or the inboxes of a role, a group or one person."""

    __tablename__ = "alert_rules"

    event: Mapped[str] = mapped_column(String(40))
    threshold_percent: Mapped[int | None] = mapped_column(Integer)
    """For budget events: only this threshold; None = every threshold."""
    channel_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("alert_channels.id", ondelete="CASCADE")
    )
    role: Mapped[str | None] = mapped_column(String(20))
    group_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    quiet_start_hour: Mapped[int | None] = mapped_column(Integer)
    """Quiet hours in the workspace time zone, [start, end) hours; deliveries wait until the end."""
    quiet_end_hour: Mapped[int | None] = mapped_column(Integer)


class Alert(IdMixin, Base):
    """One occurrence of a catalogue event. `dedupe_key` is unique: one alert per threshold per
    period, however many processes detect it."""

    __tablename__ = "alerts"

    event: Mapped[str] = mapped_column(String(40))
    subject_kind: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str | None] = mapped_column(String(100))
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)
    threshold_percent: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    member_id: Mapped[uuid.UUID | None] = mapped_column()
    """The member the alert is about (they see it in their own inbox)."""
    group_id: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


Index("ix_alerts_created_at_id", Alert.created_at, Alert.id)


class DeliveryStatus:
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class AlertDelivery(IdMixin, Base):
    """The outbox: one message to one channel (or one address), written in the transaction
    that raised it, sent by the delivery job with retries and backoff."""

    __tablename__ = "alert_deliveries"

    alert_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    channel_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("alert_channels.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(20))
    """`email`, `slack`, `teams`, `webhook`."""
    recipient: Mapped[str | None] = mapped_column(String(320))
    """For mail sent to a person (invitations, links): the address. Channel targets live on
    the channel, sealed."""
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    body_sealed: Mapped[bool] = mapped_column(Boolean, default=False)
    """The body carries a secret (a set-up or reset link): sealed under the credential subkey,
    bound to the delivery id, opened only to send it."""
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utc_now)
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


Index("ix_alert_deliveries_status_next", AlertDelivery.status, AlertDelivery.next_attempt_at)
Index("ix_alert_deliveries_created_at_id", AlertDelivery.created_at, AlertDelivery.id)


class Notification(IdMixin, Base):
    """One alert in one user's inbox (the console's notification centre)."""

    __tablename__ = "notifications"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    alert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    read_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


Index("ix_notifications_user_id_read_at", Notification.user_id, Notification.read_at)
Index("uq_notifications_user_alert", Notification.user_id, Notification.alert_id, unique=True)


class GatewayCounter(Base):
    """A gateway process's counter of an event it does not persist per request (a
    `settlement_backlog` refusal is not written, see gateway/settlement.py). Each process writes
    its own rows at most once per reporting interval, and only when a value changed, so the
    detection sweep in any process sees every process's counts."""

    __tablename__ = "gateway_counters"

    process: Mapped[str] = mapped_column(String(200), primary_key=True)
    """The process's lease holder name (host, pid, random tag)."""
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
    """The count since the process started."""
    changed_at: Mapped[datetime] = mapped_column()
    """The report in which the value last went up."""
    reported_at: Mapped[datetime] = mapped_column()


Index("ix_gateway_counters_name_changed_at", GatewayCounter.name, GatewayCounter.changed_at)
