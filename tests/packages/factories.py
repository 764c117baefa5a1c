"""Builders for package tests: packages through the service, spending on an allowance."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from spectra.audit.actor import Actor, local_actor
from spectra.audit.models import AuditEvent
from spectra.db.session import Session
from spectra.ledger import service as ledger_service
from spectra.ledger.models import LedgerTransaction
from spectra.packages import service as packages_service
from spectra.packages.schemas import PackageCreate

OWNER: Actor = local_actor()
UNIT = 1_000_000


async def make_package(session: Session, **overrides: Any) -> packages_service.PackageDetail:
    body: dict[str, Any] = {
        "name": f"pkg-{uuid.uuid4().hex[:6]}",
        "allowance": "20",
        "period": "monthly",
        "model_patterns": ["claude-sonnet-*"],
    }
    body.update(overrides)
    return await packages_service.create_package(
        session, OWNER, data=PackageCreate.model_validate(body)
    )


async def spend(session: Session, account_id: uuid.UUID, micros: int) -> None:
    """Charge usage to an allowance account, as the gateway's settlement would."""
    expense = await ledger_service.get_or_create_account(session, kind="usage_expense")
    await ledger_service.post(
        session,
        OWNER,
        kind="usage",
        postings=[(account_id, -micros), (expense.id, micros)],
        idempotency_key=f"test-usage:{uuid.uuid4()}",
    )


async def count_txns(session: Session, kind: str, assignment_id: uuid.UUID | None = None) -> int:
    rows = (
        (await session.execute(select(LedgerTransaction).where(LedgerTransaction.kind == kind)))
        .scalars()
        .all()
    )
    if assignment_id is None:
        return len(rows)
    return sum(1 for r in rows if (r.meta or {}).get("assignment_id") == str(assignment_id))


async def audit_actions(session: Session, action: str) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    return list((await session.execute(stmt)).scalars().all())


async def audit_count(session: Session) -> int:
    return int((await session.execute(select(func.count()).select_from(AuditEvent))).scalar_one())
