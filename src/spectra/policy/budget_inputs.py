"""The budget part of the decision's inputs: the key's budgets and limits, the request's
project (by key, or by `x-spectra-project` where allowed) and its budget, with spend from the
budget counters. Shared by the gateway (in-memory counters) and `explain` (loaded counters)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from spectra.budgets.terms import BudgetTerms

from .budget_counters import BudgetCounters
from .facts import BudgetFacts


def budget_inputs(
    terms: BudgetTerms,
    counters: BudgetCounters | None,
    *,
    user_id: uuid.UUID,
    key_id: uuid.UUID | None,
    project_header: str | None,
    now: datetime,
) -> dict[str, Any]:
    """Keyword arguments for `PolicyInputs` (none when no budget or project applies)."""
    out: dict[str, Any] = {}
    key = terms.keys.get(key_id) if key_id is not None else None
    if key is not None and key_id is not None:
        amounts = key.amounts()
        if amounts:
            spent = counters.key_spent(key_id, now) if counters is not None else {}
            pending = counters.pending(key_id) if counters is not None else 0
            extension = terms.extension_micros(key_id, now) if key.mode == "approval" else 0
            out["key_budgets"] = tuple(
                BudgetFacts(
                    "key",
                    "this key",
                    key_id,
                    period,
                    micros,
                    spent.get(period, 0),
                    key.mode,
                    extension,
                    pending,
                )
                for period, micros in amounts
            )
        out["key_models"] = key.models
        out["key_clients"] = key.clients
        out["key_rpm"] = key.rpm
        out["key_tpm"] = key.tpm
        out["key_concurrency"] = key.concurrency
    project_id = terms.key_projects.get(key_id) if key_id is not None else None
    via = "key" if project_id is not None else None
    header = (project_header or "").strip() or None
    if header is not None:
        named = terms.by_name.get(header)
        found = terms.projects.get(named) if named is not None else None
        refusal = None
        if found is not None and found.id == project_id:
            pass
        elif found is None or user_id not in found.members:
            refusal = (
                f"You are not a member of a project named '{header[:100]}'; remove the "
                "x-spectra-project header or ask an admin to add you to the project."
            )
        elif not found.is_header_allowed:
            refusal = (
                f"Project '{found.name}' does not take requests by the x-spectra-project "
                "header; use a key that belongs to it."
            )
        elif project_id is not None and project_id != found.id:
            refusal = (
                f"This key belongs to project '{terms.projects[project_id].name}', not "
                f"'{found.name}'; use that project's key or remove the header."
            )
        if refusal is not None:
            out["project_name"] = header[:100]
            out["project_refusal"] = refusal
            return out
        assert found is not None
        if found.id != project_id:
            project_id, via = found.id, "header"
    if project_id is None:
        return out
    proj = terms.projects[project_id]
    out["project_id"] = project_id
    out["project_name"] = proj.name
    out["project_via"] = via
    if proj.monthly_budget_micros is not None:
        out["project_budget"] = BudgetFacts(
            "project",
            f"project '{proj.name}'",
            project_id,
            "month",
            proj.monthly_budget_micros,
            counters.project_spent(project_id, now) if counters is not None else 0,
            proj.mode,
            terms.extension_micros(project_id, now) if proj.mode == "approval" else 0,
            counters.pending(project_id) if counters is not None else 0,
        )
    return out
