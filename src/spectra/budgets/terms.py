"""The budget terms the access decision reads, as plain frozen values (loaded whole: the tables
are small; the policy cache reloads them on any `budgets.*` change)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from spectra.db.session import AnySession
from spectra.kit.clock import utc_now

from . import repository


@dataclass(frozen=True, slots=True)
class KeyTerms:
    day_micros: int | None
    week_micros: int | None
    month_micros: int | None
    mode: str
    rpm: int | None
    tpm: int | None
    concurrency: int | None
    models: tuple[str, ...]
    clients: tuple[str, ...]

    def amounts(self) -> tuple[tuple[str, int], ...]:
        """(period, budget micros) for each period with a budget."""
        pairs = (("day", self.day_micros), ("week", self.week_micros), ("month", self.month_micros))
        return tuple((p, v) for p, v in pairs if v is not None)


@dataclass(frozen=True, slots=True)
class ProjectTerms:
    id: uuid.UUID
    name: str
    monthly_budget_micros: int | None
    mode: str
    is_header_allowed: bool
    members: frozenset[uuid.UUID]


@dataclass(slots=True)
class BudgetTerms:
    keys: dict[uuid.UUID, KeyTerms] = field(default_factory=dict)
    projects: dict[uuid.UUID, ProjectTerms] = field(default_factory=dict)
    by_name: dict[str, uuid.UUID] = field(default_factory=dict)
    key_projects: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    extensions: dict[uuid.UUID, tuple[tuple[int, datetime], ...]] = field(default_factory=dict)
    """Approved extensions by key or project id: (amount micros, expires at)."""

    def extension_micros(self, subject: uuid.UUID, now: datetime) -> int:
        """What approved, unexpired extensions add to a key's or a project's budget now."""
        return sum(amount for amount, until in self.extensions.get(subject, ()) if until > now)


async def load_terms(session: AnySession) -> BudgetTerms:
    """Every key budget, active project (with members), key attribution and live extension."""
    terms = BudgetTerms()
    for row in await repository.key_budgets(session):
        terms.keys[row.key_id] = KeyTerms(
            row.day_micros,
            row.week_micros,
            row.month_micros,
            row.mode,
            row.rpm,
            row.tpm,
            row.concurrency,
            tuple(row.models or ()),
            tuple(row.clients or ()),
        )
    projects = list(await repository.active_projects(session))
    members: dict[uuid.UUID, set[uuid.UUID]] = {}
    for m in await repository.project_members(session):
        members.setdefault(m.project_id, set()).add(m.user_id)
    for p in projects:
        terms.projects[p.id] = ProjectTerms(
            p.id,
            p.name,
            p.monthly_budget_micros,
            p.mode,
            p.is_header_allowed,
            frozenset(members.get(p.id, ())),
        )
        terms.by_name[p.name] = p.id
    for link in await repository.project_keys(session):
        if link.project_id in terms.projects:
            terms.key_projects[link.key_id] = link.project_id
    found: dict[uuid.UUID, list[tuple[int, datetime]]] = {}
    for ext in await repository.approved_extensions(session, utc_now()):
        subject = ext.key_id or ext.project_id
        if subject is not None and ext.expires_at is not None:
            found.setdefault(subject, []).append((ext.amount_micros, ext.expires_at))
    terms.extensions = {k: tuple(v) for k, v in found.items()}
    return terms
