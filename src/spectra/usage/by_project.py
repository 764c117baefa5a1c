"""Grouping by project (`--by project`): a statement's usage and refunds, and (forecasts.py) the
forecast per project.

Each usage transaction takes the project of its usage record; a refund takes the project of the
usage it reverses; a transaction with no record or no project goes to "(no project)". The
amounts are the same ledger postings on the statement's accounts as its usage and refunds lines,
so the groups sum exactly to those lines' totals (`Statement.by_project_reconciles`).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from spectra.db.session import AnySession
from spectra.kit.money import format_amount
from spectra.ledger.models import LedgerPosting, LedgerTransaction
from spectra.usage import reports
from spectra.usage.errors import InvalidUsageFilterError
from spectra.usage.models import UsageRecord

GROUPINGS = ("project",)
NO_PROJECT = "(no project)"

BudgetLookup = Callable[[AnySession, list[uuid.UUID]], Awaitable[dict[uuid.UUID, int | None]]]
_budgets: list[BudgetLookup] = []


def register_budgets(lookup: BudgetLookup) -> None:
    """Let the budgets domain (which owns projects) give each project's monthly budget."""
    _budgets[:] = [lookup]


async def project_budgets(session: AnySession, ids: list[uuid.UUID]) -> dict[uuid.UUID, int | None]:
    if not ids or not _budgets:
        return {}
    return await _budgets[0](session, ids)


def check_by(by: str | None) -> str | None:
    if by is None or by == "":
        return None
    if by not in GROUPINGS:
        raise InvalidUsageFilterError(
            f"'{by[:40]}' is not a grouping; use one of {', '.join(GROUPINGS)}.", by=by[:40]
        )
    return by


@dataclass
class ProjectSpend:
    project_id: uuid.UUID | None
    label: str
    requests: int = 0
    """Usage transactions (one per billed request)."""
    usage_micros: int = 0
    """Signed like the statement's lines: usage takes money out, so this is <= 0."""
    refunds_micros: int = 0

    @property
    def net_micros(self) -> int:
        return self.usage_micros + self.refunds_micros

    def as_json(self) -> dict[str, Any]:
        return {
            "project_id": str(self.project_id) if self.project_id else None,
            "label": self.label,
            "requests": self.requests,
            "usage": format_amount(self.usage_micros),
            "usage_micros": self.usage_micros,
            "refunds": format_amount(self.refunds_micros),
            "refunds_micros": self.refunds_micros,
            "net": format_amount(self.net_micros),
            "net_micros": self.net_micros,
        }


async def spend_by_project(
    session: AnySession, account_ids: Sequence[uuid.UUID], since: datetime, until: datetime
) -> list[ProjectSpend]:
    """Usage and refunds on `account_ids` in [since, until), per project, largest spend first
    and "(no project)" last."""
    if not account_ids:
        return []
    project = (
        select(UsageRecord.project_id)
        .where(
            UsageRecord.ledger_transaction_id
            == func.coalesce(LedgerTransaction.reverses_id, LedgerTransaction.id)
        )
        .limit(1)
        .scalar_subquery()
    )
    per_txn = (
        select(
            LedgerTransaction.id.label("txn_id"),
            LedgerTransaction.kind.label("kind"),
            project.label("project_id"),
            func.sum(LedgerPosting.amount_micros).label("net"),
        )
        .join(LedgerTransaction, LedgerTransaction.id == LedgerPosting.transaction_id)
        .where(
            LedgerPosting.account_id.in_(list(account_ids)),
            LedgerPosting.created_at >= since,
            LedgerPosting.created_at < until,
            LedgerTransaction.kind.in_(("usage", "refund")),
        )
        .group_by(LedgerTransaction.id, LedgerTransaction.kind, "project_id")
        .subquery()
    )
    rows = (
        await session.execute(
            select(
                per_txn.c.project_id,
                per_txn.c.kind,
                func.count().label("n"),
                func.sum(per_txn.c.net).label("amount"),
            ).group_by(per_txn.c.project_id, per_txn.c.kind)
        )
    ).all()
    names = await reports.labels(
        session, "project", [str(r.project_id) for r in rows if r.project_id is not None]
    )
    out: dict[uuid.UUID | None, ProjectSpend] = {}
    for row in rows:
        pid = row.project_id
        spend = out.get(pid)
        if spend is None:
            label = names.get(str(pid), str(pid)) if pid is not None else NO_PROJECT
            spend = out[pid] = ProjectSpend(pid, label)
        if row.kind == "usage":
            spend.requests += int(row.n)
            spend.usage_micros += int(row.amount or 0)
        else:
            spend.refunds_micros += int(row.amount or 0)
    return sorted(out.values(), key=lambda s: (s.project_id is None, s.net_micros, s.label))
