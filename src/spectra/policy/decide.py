"""The access decision, pure: may this member use this model now, who pays, and why.

    decision = decide(inputs, "claude-sonnet-4-5", now=utc_now())

Rules, in order (each leaves a step in `decision.trace`):
1. `key_scope`      the key's model patterns (none = any model) must match the model.
2. `user_status`    the member must be active (or invited).
3. `group_deny`     the group's explicitly denied models: a match refuses, whatever else allows
                    it (explicit deny wins over allow patterns, rollout grants and packages).
4. `group_allow`    the group's allowed model patterns (none = any model), widened by the
                    member's own grants (from a rollout cohort), must match the model.
5. `client`         the group's allowed client families (none = any client) must include the
                    client that sent the request (not checked when the client is unknown).
6. `group_cap`      the group's month-to-date spend must be below its monthly cap.
7. `member_cap`     the member's month-to-date spend must be below the group's per-member cap.
8. `request_limits` the group's per-member request limits (enforced by the gateway's limiter).
9. `packages`       each active package that allows the model is a funding source, the
                    soonest-expiring first; one with nothing left is skipped.
10. `wallet`        then the member's wallet, when the group allows that fallback (default on).
11. `group_wallet`  then the home group's wallet, when the group allows it (default on).
12. `funding`       allowed when at least one source has money available; else refused with the
                    reason that tells the member what happened and what to do.

Rules 1 to 8 bound what any funding source may pay for; within that bound packages pay for the
models they allow and wallets for the rest, where the group's fallback switches permit.
Caps compare month-to-date spend (settled usage, in memory in the gateway) with the cap: at or
over the cap is refused. A request admitted below the cap is charged in full, so a cap can be
exceeded by the cost of the requests admitted before the counter reached it (see counters.py).

`inputs` is a snapshot: the gateway builds it from its in-memory caches, `spectra policy
explain` from the database; both call this same function, so both show the same trace.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any
from zoneinfo import ZoneInfo

from spectra.errors import SpectraError
from spectra.kit.money import display, format_amount

from .errors import (
    ClientNotAllowedError,
    GroupCapReachedError,
    MemberCapReachedError,
    ModelDeniedByGroupError,
    ModelNotAllowedByGroupError,
    ModelNotInKeyScopeError,
    ModelNotInPackageError,
    NoFundingSourceError,
    PackageAllowanceExhaustedError,
    UserNotActiveError,
    WalletEmptyError,
)

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


@dataclass(frozen=True, slots=True)
class TraceStep:
    rule: str
    outcome: str
    """`pass`, `deny`, `pick` (a funding source chosen) or `skip`."""
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


Rule = Callable[[PolicyInputs, str, list[TraceStep]], SpectraError | None]
"""One access rule: appends its trace step and answers the refusal, or None to go on."""


def decide(inputs: PolicyInputs, model: str, *, now: datetime) -> Decision:
    """Decide access to `model` and the funding order. Pure: same inputs, same answer.

    The rules in `RULES` run in order and the first refusal decides; then the funding order."""
    trace: list[TraceStep] = []
    for rule in RULES:
        refusal = rule(inputs, model, trace)
        if refusal is not None:
            return _deny(trace, trace[-1].rule, refusal)
    return _fund(inputs, model, now, trace)


def _fund(inputs: PolicyInputs, model: str, now: datetime, trace: list[TraceStep]) -> Decision:
    """The last rule: who pays, in order (packages ending soonest, then the wallets)."""
    funding: list[FundingPick] = []
    allowing: list[PackageFacts] = []
    for pkg in sorted(inputs.packages, key=lambda p: (p.period_ends_at, str(p.assignment_id))):
        facts = {
            "package": pkg.package_name,
            "patterns": list(pkg.model_patterns),
            "left_micros": pkg.available_micros,
            "period_ends_at": pkg.period_ends_at.isoformat(),
        }
        if pkg.period_ends_at <= now:
            trace.append(
                TraceStep("packages", "skip", f"'{pkg.package_name}' period has ended", facts)
            )
            continue
        if not pkg.allows(model):
            trace.append(
                TraceStep(
                    "packages", "skip", f"'{pkg.package_name}' does not include {model}", facts
                )
            )
            continue
        allowing.append(pkg)
        if pkg.available_micros <= 0:
            trace.append(
                TraceStep("packages", "skip", f"'{pkg.package_name}' has nothing left", facts)
            )
            continue
        funding.append(
            FundingPick(
                ALLOWANCE,
                pkg.allowance_account_id,
                f"package '{pkg.package_name}'",
                pkg.available_micros,
                cap_micros=pkg.max_cost_per_request_micros,
                assignment_id=pkg.assignment_id,
            )
        )
        trace.append(
            TraceStep(
                "packages",
                "pick",
                f"'{pkg.package_name}' pays first with {_money(inputs, pkg.available_micros)} left",
                facts,
            )
        )
    if not inputs.packages:
        trace.append(TraceStep("packages", "skip", "no active package", {}))

    wallet_ok = _wallet_step(
        trace,
        funding,
        "wallet",
        USER_WALLET,
        "your wallet",
        inputs.wallet,
        inputs.wallet_fallback,
        inputs,
    )
    group_ok = _wallet_step(
        trace,
        funding,
        "group_wallet",
        GROUP_WALLET,
        f"group wallet '{inputs.group_name}'",
        inputs.group_wallet,
        inputs.group_wallet_fallback,
        inputs,
    )

    if funding:
        order = ", then ".join(f.label for f in funding)
        trace.append(
            TraceStep(
                "funding", "pass", f"paid by {order}", {"sources": [f.label for f in funding]}
            )
        )
        return Decision(
            allowed=True,
            reason_code=None,
            message=f"Allowed: {model} is paid by {order}.",
            deciding_rule="funding",
            funding=tuple(funding),
            trace=tuple(trace),
        )
    error = _no_funding(inputs, model, allowing, wallet_ok=wallet_ok, group_ok=group_ok)
    trace.append(TraceStep("funding", "deny", error.message, {"reason_code": error.code}))
    return _deny(trace, "funding", error)


def _matches(model: str, patterns: tuple[str, ...]) -> list[str]:
    return [p for p in patterns if fnmatchcase(model, p)]


def key_scope(inputs: PolicyInputs, model: str, trace: list[TraceStep]) -> SpectraError | None:
    """Rule 1: the key's model scope."""
    facts = {"key_id": _s(inputs.key_id), "scopes": list(inputs.key_scopes), "model": model}
    if inputs.key_scopes and not any(fnmatchcase(model, p) for p in inputs.key_scopes):
        patterns = ", ".join(inputs.key_scopes)
        trace.append(
            TraceStep("key_scope", "deny", f"the key allows {patterns}, not {model}", facts)
        )
        return ModelNotInKeyScopeError(
            f"This key may only use models matching {patterns}, not {model}; "
            "use another key or ask an admin to widen its scope.",
            model=model,
        )
    trace.append(
        TraceStep(
            "key_scope",
            "pass",
            "the key allows any model" if not inputs.key_scopes else f"the key allows {model}",
            facts,
        )
    )
    return None


def user_status(inputs: PolicyInputs, model: str, trace: list[TraceStep]) -> SpectraError | None:
    """Rule 2: the key's user is active (or invited)."""
    usable = inputs.user_status in USABLE_USER_STATUSES
    trace.append(
        TraceStep(
            "user_status",
            "pass" if usable else "deny",
            f"{inputs.user_email} is {inputs.user_status}",
            {"status": inputs.user_status},
        )
    )
    if usable:
        return None
    return UserNotActiveError(
        f"This key's user is {inputs.user_status}; ask an admin to reactivate the account.",
        user_status=inputs.user_status,
    )


def group_deny(inputs: PolicyInputs, model: str, trace: list[TraceStep]) -> SpectraError | None:
    """Rule 3: the group's denied models."""
    group = inputs.group_name
    denied = _matches(model, inputs.denied_models)
    facts: dict[str, Any] = {"denied": list(inputs.denied_models), "model": model}
    if denied:
        trace.append(
            TraceStep("group_deny", "deny", f"group '{group}' denies {', '.join(denied)}", facts)
        )
        return ModelDeniedByGroupError(
            f"Your group '{group}' does not allow {model} (it is explicitly denied); "
            "ask an admin if you need it.",
            model=model,
            group=group,
        )
    trace.append(
        TraceStep(
            "group_deny",
            "pass",
            f"group '{group}' denies no pattern matching {model}"
            if inputs.denied_models
            else f"group '{group}' denies no model",
            facts,
        )
    )
    return None


def group_allow(inputs: PolicyInputs, model: str, trace: list[TraceStep]) -> SpectraError | None:
    """Rule 4: the group's allowed models, or the member's own grants."""
    group = inputs.group_name
    facts = {
        "allowed": list(inputs.allowed_models),
        "member_grants": list(inputs.member_models),
        "model": model,
        "default_package": inputs.default_package,
    }
    if not inputs.allowed_models:
        trace.append(TraceStep("group_allow", "pass", f"group '{group}' allows any model", facts))
        return None
    by_group = _matches(model, inputs.allowed_models)
    by_grant = _matches(model, inputs.member_models)
    if not by_group and not by_grant:
        trace.append(
            TraceStep(
                "group_allow",
                "deny",
                f"group '{group}' allows {', '.join(inputs.allowed_models)}, not {model}",
                facts,
            )
        )
        return ModelNotAllowedByGroupError(
            f"Your group '{group}' allows {', '.join(inputs.allowed_models)}, not {model}; "
            "ask an admin to enable it for you.",
            model=model,
            group=group,
        )
    why = (
        f"group '{group}' allows {', '.join(by_group)}"
        if by_group
        else f"you were granted {', '.join(by_grant)}"
    )
    trace.append(TraceStep("group_allow", "pass", why, facts))
    return None


def client(inputs: PolicyInputs, model: str, trace: list[TraceStep]) -> SpectraError | None:
    """Rule 5: the group's allowed clients (skipped where the client is not known)."""
    group = inputs.group_name
    facts = {"allowed_clients": list(inputs.allowed_clients), "client": inputs.client}
    if not inputs.allowed_clients:
        trace.append(TraceStep("client", "pass", f"group '{group}' allows any client", facts))
    elif inputs.client is None:
        trace.append(TraceStep("client", "skip", "the client is not known here", facts))
    elif inputs.client not in inputs.allowed_clients:
        clients = ", ".join(inputs.allowed_clients)
        trace.append(
            TraceStep(
                "client", "deny", f"group '{group}' allows {clients}, not {inputs.client}", facts
            )
        )
        return ClientNotAllowedError(
            f"Your group '{group}' only allows requests from {clients}, and this one came from "
            f"{inputs.client}; use one of those tools or ask an admin.",
            client=inputs.client,
            group=group,
        )
    else:
        trace.append(TraceStep("client", "pass", f"group '{group}' allows {inputs.client}", facts))
    return None


def group_cap(inputs: PolicyInputs, model: str, trace: list[TraceStep]) -> SpectraError | None:
    """Rule 6: the group's monthly cap."""
    group = inputs.group_name
    spent = inputs.group_spent_micros
    cap = _reached(inputs, trace, "group_cap", inputs.group_cap_micros, spent, f"group '{group}'")
    if cap is None:
        return None
    return GroupCapReachedError(
        f"Your group '{group}' has used its {_money(inputs, cap)} monthly cap "
        f"({_money(inputs, spent)} spent this month); ask an admin to raise it.",
        cap_micros=cap,
        spent_micros=spent,
    )


def member_cap(inputs: PolicyInputs, model: str, trace: list[TraceStep]) -> SpectraError | None:
    """Rule 7: the member's monthly cap in the group."""
    spent = inputs.member_spent_micros
    cap = _reached(inputs, trace, "member_cap", inputs.member_cap_micros, spent, "you")
    if cap is None:
        return None
    return MemberCapReachedError(
        f"You have used your {_money(inputs, cap)} monthly cap in group '{inputs.group_name}' "
        f"({_money(inputs, spent)} spent this month); ask an admin to raise it.",
        cap_micros=cap,
        spent_micros=spent,
    )


def _reached(
    inputs: PolicyInputs,
    trace: list[TraceStep],
    rule: str,
    cap: int | None,
    spent: int,
    whose: str,
) -> int | None:
    """Trace a monthly cap; the cap when `spent` has reached it, else None."""
    facts = {
        "cap_micros": cap,
        "spent_micros": spent,
        "remaining_micros": None if cap is None else cap - spent,
    }
    if cap is None:
        trace.append(TraceStep(rule, "pass", f"no monthly cap for {whose}", facts))
        return None
    if spent >= cap:
        trace.append(
            TraceStep(
                rule,
                "deny",
                f"{whose} spent {_money(inputs, spent)} of the {_money(inputs, cap)} monthly cap",
                facts,
            )
        )
        return cap
    trace.append(
        TraceStep(
            rule,
            "pass",
            f"{whose} spent {_money(inputs, spent)} of {_money(inputs, cap)}; "
            f"{_money(inputs, cap - spent)} left this month",
            facts,
        )
    )
    return None


def request_limits(inputs: PolicyInputs, model: str, trace: list[TraceStep]) -> SpectraError | None:
    """Rule 8: the group's per-member request limits, shown (admission enforces them)."""
    limits = {"rpm": inputs.rpm, "tpm": inputs.tpm, "max_concurrent": inputs.max_concurrent}
    if any(v is not None for v in limits.values()):
        shown = ", ".join(f"{k} {v}" for k, v in limits.items() if v is not None)
        trace.append(TraceStep("request_limits", "pass", f"per member: {shown}", limits))
    else:
        trace.append(TraceStep("request_limits", "pass", "no group request limits", limits))
    return None


RULES: tuple[Rule, ...] = (
    key_scope,
    user_status,
    group_deny,
    group_allow,
    client,
    group_cap,
    member_cap,
    request_limits,
)
"""The access rules, in order: the order is the policy (the first refusal decides)."""


def insufficient_for_request(
    inputs: PolicyInputs, decision: Decision, model: str, needed_micros: int
) -> SpectraError:
    """The refusal when the allowed sources together cannot hold a request's estimated cost."""
    available = sum(
        min(f.available_micros, f.cap_micros) if f.cap_micros is not None else f.available_micros
        for f in decision.funding
    )
    need = _money(inputs, needed_micros)
    first = decision.funding[0] if decision.funding else None
    pkg = _package(inputs, first.assignment_id) if first is not None else None
    if pkg is not None and len(decision.funding) == 1:
        if (
            pkg.max_cost_per_request_micros is not None
            and needed_micros > pkg.max_cost_per_request_micros
        ):
            return PackageAllowanceExhaustedError(
                f"This request would cost about {need}, more than the "
                f"{_money(inputs, pkg.max_cost_per_request_micros)} per request that package "
                f"'{pkg.package_name}' allows; ask for fewer output tokens or ask an admin.",
                needed_micros=needed_micros,
            )
        return PackageAllowanceExhaustedError(
            f"{_allowance_phrase(inputs, pkg)}, and this request needs about {need}; "
            f"{_wallet_phrase(inputs)}. Ask an admin to recharge or request a top-up.",
            needed_micros=needed_micros,
            available_micros=available,
        )
    return WalletEmptyError(
        f"Your funding sources have {_money(inputs, available)} available, and this request "
        f"needs about {need}. Ask an admin to recharge or request a top-up.",
        needed_micros=needed_micros,
        available_micros=available,
    )


def _wallet_step(
    trace: list[TraceStep],
    funding: list[FundingPick],
    rule: str,
    kind: str,
    label: str,
    wallet: WalletFacts,
    switch: bool,
    inputs: PolicyInputs,
) -> bool:
    facts = {
        "switch": switch,
        "available_micros": wallet.available_micros,
        "account_id": _s(wallet.account_id),
    }
    if not switch:
        trace.append(
            TraceStep(rule, "skip", f"the group does not let members pay from {label}", facts)
        )
        return False
    if wallet.account_id is None or wallet.available_micros <= 0:
        trace.append(TraceStep(rule, "skip", f"{label} is empty", facts))
        return True
    funding.append(FundingPick(kind, wallet.account_id, label, wallet.available_micros))
    trace.append(
        TraceStep(
            rule, "pick", f"{label} pays next with {_money(inputs, wallet.available_micros)}", facts
        )
    )
    return True


def _no_funding(
    inputs: PolicyInputs,
    model: str,
    allowing: list[PackageFacts],
    *,
    wallet_ok: bool,
    group_ok: bool,
) -> SpectraError:
    if allowing:
        pkg = allowing[0]
        return PackageAllowanceExhaustedError(
            f"{_allowance_phrase(inputs, pkg)}; {_wallet_phrase(inputs)}. "
            "Ask an admin to recharge or request a top-up.",
            package=pkg.package_name,
            model=model,
        )
    if inputs.packages:
        names = " and ".join(f"'{p.package_name}'" for p in inputs.packages)
        noun = "package" if len(inputs.packages) == 1 else "packages"
        own = {p.package_name for p in inputs.packages}
        others = [
            name
            for name, patterns in inputs.offered
            if name not in own and any(fnmatchcase(model, p) for p in patterns)
        ]
        tail = f"; {' and '.join(others)} {'does' if len(others) == 1 else 'do'}" if others else ""
        verb = "does" if len(inputs.packages) == 1 else "do"
        return ModelNotInPackageError(
            f"Your {noun} {names} {verb} not include {model}{tail}. Ask an admin.",
            model=model,
        )
    if not wallet_ok and not group_ok:
        return NoFundingSourceError(
            f"You have no package that includes {model}, and your group does not let members pay "
            "from wallets; ask an admin to assign you a package.",
            model=model,
        )
    return WalletEmptyError(
        f"You have no package that includes {model} and {_wallet_phrase(inputs)}; "
        "ask an admin to recharge it or request a top-up.",
        model=model,
    )


def _allowance_phrase(inputs: PolicyInputs, pkg: PackageFacts) -> str:
    left = _money(inputs, max(pkg.available_micros, 0))
    of = f" of {_money(inputs, pkg.allowance_micros)}" if pkg.allowance_micros is not None else ""
    return (
        f"Package '{pkg.package_name}' has {left}{of} left until {_day(inputs, pkg.period_ends_at)}"
    )


def _wallet_phrase(inputs: PolicyInputs) -> str:
    if not inputs.wallet_fallback and not inputs.group_wallet_fallback:
        return "your group does not let members pay from wallets"
    group = inputs.group_wallet_fallback and inputs.group_wallet.account_id is not None
    if inputs.wallet_fallback and group:
        return "your wallet and your group's wallet are empty"
    if inputs.wallet_fallback:
        return "your wallet is empty"
    return "your group's wallet is empty"


def _package(inputs: PolicyInputs, assignment_id: uuid.UUID | None) -> PackageFacts | None:
    return next((p for p in inputs.packages if p.assignment_id == assignment_id), None)


def _deny(trace: list[TraceStep], rule: str, error: SpectraError) -> Decision:
    return Decision(
        allowed=False,
        reason_code=error.code,
        message=error.message,
        deciding_rule=rule,
        funding=(),
        trace=tuple(trace),
        error=error,
    )


def _money(inputs: PolicyInputs, micros: int) -> str:
    return display(micros, inputs.currency)


def _day(inputs: PolicyInputs, at: datetime) -> str:
    local = at.astimezone(ZoneInfo(inputs.time_zone))
    return f"{local.strftime('%b')} {local.day}"


def _s(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)
