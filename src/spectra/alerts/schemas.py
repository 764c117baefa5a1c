"""Alert inputs and read answers shared by the API, the console and the CLI."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from spectra.kit.schema import ReadModel


class ChannelCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    kind: str
    """`email`, `slack`, `teams` or `webhook`."""
    target: str = Field(min_length=1, max_length=2000)
    """An email address, or the incoming-webhook URL (kept sealed, never shown again)."""


class ChannelRead(ReadModel):
    id: uuid.UUID
    name: str
    kind: str
    target_hint: str
    is_enabled: bool
    created_at: datetime


class RuleCreate(BaseModel):
    event: str
    threshold_percent: int | None = Field(default=None, ge=1, le=1000)
    channel: str | None = None
    """A channel name."""
    role: str | None = None
    group: str | None = None
    user: str | None = None
    """An email: that person's inbox."""
    quiet_start_hour: int | None = Field(default=None, ge=0, le=23)
    quiet_end_hour: int | None = Field(default=None, ge=0, le=23)


class RuleRead(ReadModel):
    id: uuid.UUID
    event: str
    threshold_percent: int | None
    channel_id: uuid.UUID | None
    channel_name: str | None = None
    role: str | None
    group_id: uuid.UUID | None
    user_id: uuid.UUID | None
    quiet_start_hour: int | None
    quiet_end_hour: int | None
    created_at: datetime


class AlertRead(ReadModel):
    id: uuid.UUID
    event: str
    subject_kind: str
    subject_id: str | None
    threshold_percent: int | None
    title: str
    message: str
    data: dict[str, Any]
    member_id: uuid.UUID | None
    group_id: uuid.UUID | None
    created_at: datetime


class DeliveryRead(ReadModel):
    id: uuid.UUID
    alert_id: uuid.UUID | None
    channel_id: uuid.UUID | None
    kind: str
    recipient: str | None
    subject: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


class NotificationRead(ReadModel):
    """One alert in the viewer's inbox."""

    id: uuid.UUID
    alert_id: uuid.UUID
    event: str
    title: str
    message: str
    created_at: datetime
    read_at: datetime | None


class InboxRead(ReadModel):
    unread: int
    items: list[NotificationRead]


class MarkReadRequest(BaseModel):
    alert_id: uuid.UUID | None = None
    """One alert; none = everything in the inbox."""


class MarkReadResult(ReadModel):
    marked: int


class EventRead(ReadModel):
    name: str
    description: str
    is_budget: bool


class ChannelTestResult(ReadModel):
    delivery_id: uuid.UUID
    status: str
    last_error: str | None
