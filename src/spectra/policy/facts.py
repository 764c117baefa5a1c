"""The inputs and outputs of the access decision (decide.py): the snapshot a decision reads,
its trace steps and funding picks, and the wording helpers the rules share."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

from spectra.errors import SpectraError
from spectra.kit.money import display, format_amount

USABLE_USER_STATUSES = frozenset({"active", "invited"})
ALLOWANCE = "allowance"
USER_WALLET = "user_wallet"
GROUP_WALLET = "group_wallet"


@dataclass(frozen=True, slots=True)
class PackageFacts:
    """One active package assignment of the member, with what is left on its allowance."""

    assignment_id: uuid.UUID
    package_name: str
    allowance_account_id: uuid.UUID
    model_patterns: tuple[str, ...]
    period_ends_at: datetime
    available_micros: int
    """What the allowance can still pay (balance minus open holds), micros."""
    allowance_micros: int | None = None
    """The allowance granted per period, micros (for the sentence "$X of $Y left")."""
    max_cost_per_request_micros: int | None = None
    rpm: int | None = None
    tpm: int | None = None
    max_concurrent: int | None = None

    def allows(self, model: str) -> bool:
        return any(fnmatchcase(model, pattern) for pattern in self.model_patterns)


@dataclass(frozen=True, slots=True)
class WalletFacts:
    account_id: uuid.UUID | None
    """None when the wallet was never created (nothing was ever paid into it)."""
    available_micros: int = 0


@dataclass(frozen=True, slots=True)
class BudgetFacts:
    """A key's or a project's spend budget for one period, with what is spent against it."""

    kind: str
    """`key` or `project`."""
    label: str
    """For sentences: "this key", "project 'apollo'"."""
    subject_id: uuid.UUID
    period: str
    """`day`, `week` or `month` (workspace time zone)."""
    budget_micros: int
    spent_micros: int
    """Settled spend this period, micros."""
    mode: str = "hard"
    """`hard`, `soft` or `approval`."""
    extension_micros: int = 0
    """Approved, unexpired extensions on top of the budget, micros."""
    pending_micros: int = 0
    """Estimates of requests in flight (the gateway's; 0 in explain), micros."""

    @property
    def allowed_micros(self) -> int:
        return self.budget_micros + self.extension_micros


@dataclass(frozen=True, slots=True)
class PolicyInputs:
    """Everything the decision reads, as plain values."""

    user_id: uuid.UUID
    user_email: str
    user_status: str
    group_id: uuid.UUID
    group_name: str
    packages: tuple[PackageFacts, ...]
    wallet: WalletFacts
    group_wallet: WalletFacts
    key_id: uuid.UUID | None = None
    key_scopes: tuple[str, ...] = ()
    wallet_fallback: bool = True
    group_wallet_fallback: bool = True
    offered: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Active packages of the catalog (name, model patterns): to say which package would do."""
    currency: str = "USD"
    time_zone: str = "UTC"
    allowed_models: tuple[str, ...] = ()
    """The group's allowed model patterns; empty = any model."""
    member_models: tuple[str, ...] = ()
    """Patterns granted to this member on top of the group's (a rollout cohort's models)."""
    denied_models: tuple[str, ...] = ()
    """The group's explicitly denied model patterns: they win over every allow."""
    allowed_clients: tuple[str, ...] = ()
    """Client families (spectra.usage.clients) the group allows; empty = any client."""
    client: str | None = None
    """The client family of the request; None when unknown (explain without --client)."""
    group_cap_micros: int | None = None
    group_spent_micros: int = 0
    """The group's spend this month (workspace time zone), micros."""
    member_cap_micros: int | None = None
    member_spent_micros: int = 0
    """The member's spend this month, micros."""
    rpm: int | None = None
    tpm: int | None = None
    max_concurrent: int | None = None
    """The group's per-member request limits (None = none from the group)."""
    default_package: str | None = None
    """The group's default package, shown in the trace as part of its policy."""
    key_budgets: tuple[BudgetFacts, ...] = ()
    """The key's spend budgets (spectra.budgets), one per period that has one."""
    key_models: tuple[str, ...] = ()
    """Model patterns the key's budget allows; empty = no narrowing."""
    key_clients: tuple[str, ...] = ()
    """Client families the key's budget allows; empty = any."""
    key_rpm: int | None = None
    key_tpm: int | None = None
    key_concurrency: int | None = None
    """The key's own request limits (None = the deployment's default per-key limits)."""
    project_id: uuid.UUID | None = None
    """The project the request is attributed to (its key's, or the header's when allowed)."""
    project_name: str | None = None
    project_via: str | None = None
    """`key` or `header`: how the project was chosen."""
    project_refusal: str | None = None
    """Why the `x-spectra-project` the request named may not be used (a sentence), or None."""
    project_budget: BudgetFacts | None = None


@dataclass(frozen=True, slots=True)
class TraceStep:
    rule: str
    outcome: str
    """`pass`, `deny`, `pick` (a funding source chosen), `skip`, or `warn` (the pool step: the
    model is listed but no account can take it now)."""
    detail: str
    inputs: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "outcome": self.outcome,
            "detail": self.detail,
            "inputs": self.inputs,
        }


@dataclass(frozen=True, slots=True)
class FundingPick:
    """A funding source, in the order holds and charges use them."""

    kind: str
    account_id: uuid.UUID
    label: str
    available_micros: int
    cap_micros: int | None = None
    """The most this source may pay for one request (a package's max cost per request)."""
    assignment_id: uuid.UUID | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "account_id": str(self.account_id),
            "label": self.label,
            "available": format_amount(self.available_micros),
            "available_micros": self.available_micros,
            "cap_micros": self.cap_micros,
            "assignment_id": str(self.assignment_id) if self.assignment_id else None,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason_code: str | None
    message: str
    deciding_rule: str
    funding: tuple[FundingPick, ...]
    trace: tuple[TraceStep, ...]
    error: SpectraError | None = None
    """The refusal to raise when not allowed."""

    def as_json(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "reason_code": self.reason_code,
            "message": self.message,
            "deciding_rule": self.deciding_rule,
            "funding": [f.as_json() for f in self.funding],
            "trace": [s.as_json() for s in self.trace],
        }


def money(inputs: PolicyInputs, micros: int) -> str:
    """An amount in the workspace currency, for a trace step or a refusal."""
    return display(micros, inputs.currency)


def id_text(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)
