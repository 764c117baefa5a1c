"""The access rules for key budgets and projects (spectra.budgets), beside the group and member
rules in rules.py, and the estimate check admission runs once it knows a request's cost.

A budget in `hard` mode refuses at its limit; `soft` allows and leaves a `warn` step (the alert
state, `budget_state.py`); `approval` refuses like `hard` until an admin approves an extension,
which raises the budget until it expires."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from fnmatch import fnmatchcase

from spectra.errors import SpectraError

from .budget_counters import BudgetCheck, BudgetCounters
from .errors import (
    ClientNotAllowedForKeyError,
    KeyBudgetExhaustedError,
    ModelNotAllowedForKeyError,
    ProjectBudgetExhaustedError,
    ProjectNotAllowedError,
)
from .facts import BudgetFacts, PolicyInputs, TraceStep, id_text, money

_PER = {"day": "daily", "week": "weekly", "month": "monthly"}


def key_limits(inputs: PolicyInputs, model: str, trace: list[TraceStep]) -> SpectraError | None:
    """The key budget's allowed models and client families, and its request limits (shown)."""
    facts = {
        "key_id": id_text(inputs.key_id),
        "models": list(inputs.key_models),
        "clients": list(inputs.key_clients),
        "client": inputs.client,
        "rpm": inputs.key_rpm,
        "tpm": inputs.key_tpm,
        "concurrency": inputs.key_concurrency,
    }
    if inputs.key_models and not any(fnmatchcase(model, p) for p in inputs.key_models):
        patterns = ", ".join(inputs.key_models)
        trace.append(
            TraceStep(
                "key_limits", "deny", f"the key's budget allows {patterns}, not {model}", facts
            )
        )
        return ModelNotAllowedForKeyError(
            f"This key may only use {patterns}, not {model}; use another key or ask an admin.",
            model=model,
        )
    if inputs.key_clients and inputs.client is not None and inputs.client not in inputs.key_clients:
        clients = ", ".join(inputs.key_clients)
        trace.append(
            TraceStep("key_limits", "deny", f"the key allows {clients}, not {inputs.client}", facts)
        )
        return ClientNotAllowedForKeyError(
            f"This key may only be used from {clients}, and this request came from "
            f"{inputs.client}; use one of those tools or ask an admin.",
            client=inputs.client,
        )
    shown = [
        f"{k} {v}"
        for k, v in (
            ("rpm", inputs.key_rpm),
            ("tpm", inputs.key_tpm),
            ("concurrency", inputs.key_concurrency),
        )
        if v is not None
    ]
    parts = [
        f"models {', '.join(inputs.key_models)}" if inputs.key_models else "",
        f"clients {', '.join(inputs.key_clients)}" if inputs.key_clients else "",
        ", ".join(shown),
    ]
    said = "; ".join(p for p in parts if p)
    trace.append(
        TraceStep(
            "key_limits",
            "pass",
            f"the key allows {said}" if said else "no key limits beyond the defaults",
            facts,
        )
    )
    return None


def _budget_step(
    inputs: PolicyInputs, trace: list[TraceStep], rule: str, budget: BudgetFacts
) -> bool:
    """Trace one budget; True when it refuses (hard or approval mode, at or over the limit)."""
    spent = budget.spent_micros + budget.pending_micros
    facts = {
        "subject_id": str(budget.subject_id),
        "period": budget.period,
        "mode": budget.mode,
        "budget_micros": budget.budget_micros,
        "extension_micros": budget.extension_micros,
        "spent_micros": budget.spent_micros,
        "pending_micros": budget.pending_micros,
        "remaining_micros": budget.allowed_micros - spent,
    }
    per = _PER[budget.period]
    limit = money(inputs, budget.allowed_micros)
    ext = (
        f" (with {money(inputs, budget.extension_micros)} extension)"
        if budget.extension_micros
        else ""
    )
    if spent < budget.allowed_micros:
        trace.append(
            TraceStep(
                rule,
                "pass",
                f"{budget.label} spent {money(inputs, budget.spent_micros)} of its {per} "
                f"{limit} budget{ext}",
                facts,
            )
        )
        return False
    said = f"{budget.label} spent {money(inputs, spent)} of its {per} {limit} budget{ext}"
    if budget.mode == "soft":
        trace.append(TraceStep(rule, "warn", f"{said}; soft budget, allowed", facts))
        return False
    trace.append(TraceStep(rule, "deny", f"{said} ({budget.mode} budget)", facts))
    return True


def _exhausted(inputs: PolicyInputs, budget: BudgetFacts, then: str | None = None) -> SpectraError:
    per = _PER[budget.period]
    verb = "would pass" if then else "has used"
    then = then or (
        "ask for an extension (spectra budgets extensions request) or wait for the next period"
        if budget.mode == "approval"
        else "ask an admin to raise it or wait for the next period"
    )
    cls = KeyBudgetExhaustedError if budget.kind == "key" else ProjectBudgetExhaustedError
    subject = "This key" if budget.kind == "key" else budget.label.capitalize()
    return cls(
        f"{subject} {verb} its {per} budget of {money(inputs, budget.allowed_micros)} "
        f"({money(inputs, budget.spent_micros)} spent); {then}.",
        period=budget.period,
        mode=budget.mode,
        budget_micros=budget.allowed_micros,
        spent_micros=budget.spent_micros,
    )


def key_budget(inputs: PolicyInputs, model: str, trace: list[TraceStep]) -> SpectraError | None:
    """The key's daily, weekly and monthly spend budgets."""
    if not inputs.key_budgets:
        trace.append(TraceStep("key_budget", "pass", "no key budget", {}))
        return None
    for budget in inputs.key_budgets:
        if _budget_step(inputs, trace, "key_budget", budget):
            return _exhausted(inputs, budget)
    return None


def project(inputs: PolicyInputs, model: str, trace: list[TraceStep]) -> SpectraError | None:
    """The request's project: its key's, or the one `x-spectra-project` names when the project
    allows that and the member belongs to it."""
    facts = {
        "project_id": id_text(inputs.project_id),
        "project": inputs.project_name,
        "via": inputs.project_via,
    }
    if inputs.project_refusal is not None:
        trace.append(TraceStep("project", "deny", inputs.project_refusal, facts))
        return ProjectNotAllowedError(inputs.project_refusal, project=inputs.project_name)
    if inputs.project_id is None:
        trace.append(TraceStep("project", "pass", "not attributed to a project", facts))
    else:
        by = "its key" if inputs.project_via == "key" else "the x-spectra-project header"
        trace.append(
            TraceStep("project", "pass", f"project '{inputs.project_name}', by {by}", facts)
        )
    return None


def project_budget(inputs: PolicyInputs, model: str, trace: list[TraceStep]) -> SpectraError | None:
    """The project's monthly budget."""
    budget = inputs.project_budget
    if budget is None:
        trace.append(TraceStep("project_budget", "pass", "no project budget", {}))
        return None
    if _budget_step(inputs, trace, "project_budget", budget):
        return _exhausted(inputs, budget)
    return None


async def reserve_budget(
    inputs: PolicyInputs,
    request_id: str,
    estimate_micros: int,
    counters: BudgetCounters,
    now: datetime,
    *,
    ttl_seconds: int = 900,
) -> tuple[str, SpectraError] | None:
    """Reserve a request's estimate against its key's and project's budgets when it fits every
    hard or approval budget on top of what is spent and in flight now (one atomic
    check-and-add in `counters`: in this process, or in Redis for every process); else
    (rule, refusal) and nothing is reserved. Soft budgets always have room."""
    budgets = [*inputs.key_budgets]
    if inputs.project_budget is not None:
        budgets.append(inputs.project_budget)
    budgets = [b for b in budgets if b.mode != "soft"]
    checks = [BudgetCheck(b.kind, b.subject_id, b.period, b.allowed_micros) for b in budgets]
    refused = await counters.reserve_within(
        request_id,
        checks,
        budget_subjects(inputs),
        estimate_micros,
        now,
        ttl_seconds=ttl_seconds,
    )
    if refused is None:
        return None
    budget = budgets[refused.index]
    spent, pending = refused.spent_micros, refused.pending_micros
    rule = "key_budget" if budget.kind == "key" else "project_budget"
    fresh = replace(budget, spent_micros=spent, pending_micros=pending)
    left = max(budget.allowed_micros - spent - pending, 0)
    then = (
        f"this request would cost about {money(inputs, estimate_micros)} and "
        f"{money(inputs, left)} is left"
    )
    return rule, _exhausted(inputs, fresh, then)


def budget_subjects(inputs: PolicyInputs) -> tuple[uuid.UUID, ...]:
    """The keys and projects whose budgets a request's estimate is reserved against."""
    out: list[uuid.UUID] = []
    if inputs.key_budgets:
        out.append(inputs.key_budgets[0].subject_id)
    if inputs.project_budget is not None:
        out.append(inputs.project_budget.subject_id)
    return tuple(out)
