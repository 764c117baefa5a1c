"""Pydantic output of the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from spectra.audit.export import event_record
from spectra.audit.models import AuditEvent
from spectra.audit.service import ChainReport


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


class ChainProblemRead(BaseModel):
    event_id: int
    problem: str
    action: str | None = None
    occurred_at: datetime | None = None


class ChainReportRead(BaseModel):
    ok: bool
    checked: int
    first_problem: ChainProblemRead | None
    head: int = 0
    """The newest event id found."""
    anchor_seq: int | None = None
    """The head that the latest anchor (kept outside the database) saw, if there is one."""
    anchor_at: datetime | None = None

    @classmethod
    def of(cls, report: ChainReport) -> ChainReportRead:
        first = report.problems[0] if report.problems else None
        return cls(
            ok=report.ok,
            checked=report.checked,
            first_problem=ChainProblemRead(event_id=first.event_id, problem=first.problem)
            if first
            else None,
            head=report.head,
            anchor_seq=report.anchor.seq if report.anchor else None,
            anchor_at=report.anchor.at if report.anchor else None,
        )
