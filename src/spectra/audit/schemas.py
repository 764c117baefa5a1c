"""Pydantic output of the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from spectra.audit.export import event_record
from spectra.audit.models import AuditEvent
from spectra.kit.schema import ReadModel, renamed


class AuditEventRead(BaseModel):
    id: int
    occurred_at: datetime
    actor_kind: str
    actor_label: str
    actor_user_id: str | None
    action: str
    target_type: str | None
    target_id: str | None
    target_label: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    details: dict[str, Any] | None
    request_id: str | None
    client_ip: str | None
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, event: AuditEvent) -> AuditEventRead:
        return cls.model_validate(event_record(event))


class ChainProblemRead(ReadModel):
    event_id: int
    problem: str
    action: str | None = None
    occurred_at: datetime | None = None


class ChainReportRead(ReadModel):
    """From a `ChainReport`: the first problem found, and the latest anchor's head."""

    ok: bool
    checked: int
    first_problem: ChainProblemRead | None = renamed("problems.0", "first_problem", default=None)
    head: int = 0
    """The newest event id found."""
    anchor_seq: int | None = renamed("anchor.seq", "anchor_seq", default=None)
    """The head that the latest anchor (kept outside the database) saw, if there is one."""
    anchor_at: datetime | None = renamed("anchor.at", "anchor_at", default=None)
