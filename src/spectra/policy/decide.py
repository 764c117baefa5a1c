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
8. `key_limits`     the key budget's allowed models and client families (its RPM, TPM and
                    concurrency replace the deployment's per-key defaults in the limiter).
9. `key_budget`     the key's daily, weekly and monthly spend budgets: hard and approval refuse
                    at the budget (plus approved, unexpired extensions), soft warns and allows.
10. `project`       the request's project: its key's, or `x-spectra-project` when the project
                    allows the header and the member belongs to it; else `project_not_allowed`.
11. `project_budget` the project's monthly budget, by the same modes.
12. `request_limits` the group's per-member request limits (enforced by the gateway's limiter).
13. `packages`      each active package that allows the model is a funding source, the
                    soonest-expiring first; one with nothing left is skipped.
14. `wallet`        then the member's wallet, when the group allows that fallback (default on).
15. `group_wallet`  then the home group's wallet, when the group allows it (default on).
16. `funding`       allowed when at least one source has money available; else refused with the
                    reason that tells the member what happened and what to do.

Rules 1 to 12 bound what any funding source may pay for; within that bound packages pay for the
models they allow and wallets for the rest, where the group's fallback switches permit.
Caps compare month-to-date spend (settled usage, in memory in the gateway) with the cap: at or
over the cap is refused. A request admitted below the cap is charged in full, so a cap can be
exceeded by the cost of the requests admitted before the counter reached it (see counters.py).

`inputs` is a snapshot: the gateway builds it from its in-memory caches, `spectra policy
explain` from the database; both call this same function, so both show the same trace.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from fnmatch import fnmatchcase
from zoneinfo import ZoneInfo

from spectra.errors import SpectraError
from spectra.kit.model_choice import best
from spectra.usage.defaults import known_models

from .budget_rules import key_budget, project_budget
from .errors import (
    ModelNotInPackageError,
    NoFundingSourceError,
    PackageAllowanceExhaustedError,
    WalletEmptyError,
)
from .facts import (
    ALLOWANCE,
    GROUP_WALLET,
    USER_WALLET,
    Decision,
    FundingPick,
    PackageFacts,
    PolicyInputs,
    TraceStep,
    WalletFacts,
    money,
)
from .rules import RULES, Rule, group_cap, member_cap

__all__ = [
    "ALLOWANCE",
    "Decision",
    "PackageFacts",
    "PolicyInputs",
    "TraceStep",
    "WalletFacts",
    "decide",
    "decide_fast",
    "insufficient_for_request",
    "static_refusal",
]

STATIC_RULES: tuple[Rule, ...] = tuple(
    r for r in RULES if r not in (group_cap, member_cap, key_budget, project_budget)
)
"""The rules whose outcome is a function of the snapshot, the key, the model, the client and
the project header alone (not of money, spend or time): the gateway caches their outcome per
snapshot (`Snapshot.static`) and runs only the others per request (`decide_fast`)."""


def decide(inputs: PolicyInputs, model: str, *, now: datetime) -> Decision:
    """Decide access to `model` and the funding order. Pure: same inputs, same answer.

    The rules in `RULES` run in order and the first refusal decides; then the funding order."""
    trace: list[TraceStep] = []
    for rule in RULES:
        refusal = rule(inputs, model, trace)
        if refusal is not None:
            return _deny(trace, trace[-1].rule, refusal)
    return _fund(inputs, model, now, trace)


def static_refusal(inputs: PolicyInputs, model: str) -> bool:
    """True when a rule of `STATIC_RULES` refuses `model` to these inputs (the same rule code
    `decide` runs, so the cached outcome cannot disagree with it)."""
    scratch: list[TraceStep] = []
    return any(rule(inputs, model, scratch) is not None for rule in STATIC_RULES)


def decide_fast(inputs: PolicyInputs, model: str, *, now: datetime, static_ok: bool) -> Decision:
    """`decide` without the trace, for the gateway: `static_ok` is the cached outcome of
    `STATIC_RULES` for these inputs (`not static_refusal(inputs, model)`); only the caps, the
    budgets and the funding order are checked here. Anything refused is decided again by
    `decide` (refusals are rare and must say exactly what `explain` says), so the answer equals
    `decide`'s but for an empty `trace` (tests/policy/test_decide_fast.py)."""
    if not static_ok or not _money_rules_pass(inputs):
        return decide(inputs, model, now=now)
    funding = _picks(inputs, model, now)
    if not funding:
        return decide(inputs, model, now=now)
    order = ", then ".join(f.label for f in funding)
    return Decision(True, None, f"Allowed: {model} is paid by {order}.", "funding", funding, ())


def _money_rules_pass(inputs: PolicyInputs) -> bool:
    """Rules 6, 7, 9 and 11 (caps and budgets) all pass: the same tests as `_reached` and
    `_budget_step`."""
    cap = inputs.group_cap_micros
    if cap is not None and inputs.group_spent_micros >= cap:
        return False
    cap = inputs.member_cap_micros
    if cap is not None and inputs.member_spent_micros >= cap:
        return False
    for budget in inputs.key_budgets:
        if (
            budget.mode != "soft"
            and budget.spent_micros + budget.pending_micros >= budget.allowed_micros
        ):
            return False
    project = inputs.project_budget
    return (
        project is None
        or project.mode == "soft"
        or project.spent_micros + project.pending_micros < project.allowed_micros
    )


def _allowance(pkg: PackageFacts) -> FundingPick:
    """A package's allowance as a funding source (`_picks` and `_fund` alike)."""
    return FundingPick(
        ALLOWANCE,
        pkg.allowance_account_id,
        f"package '{pkg.package_name}'",
        pkg.available_micros,
        cap_micros=pkg.max_cost_per_request_micros,
        assignment_id=pkg.assignment_id,
    )


def _picks(inputs: PolicyInputs, model: str, now: datetime) -> tuple[FundingPick, ...]:
    """The funding order `_fund` picks, without its trace."""
    funding: list[FundingPick] = []
    packages = inputs.packages
    if len(packages) > 1:
        packages = tuple(sorted(packages, key=lambda p: (p.period_ends_at, str(p.assignment_id))))
    for pkg in packages:
        if pkg.period_ends_at <= now or pkg.available_micros <= 0 or not pkg.allows(model):
            continue
        funding.append(_allowance(pkg))
    wallet = inputs.wallet
    if inputs.wallet_fallback and wallet.account_id is not None and wallet.available_micros > 0:
        funding.append(
            FundingPick(USER_WALLET, wallet.account_id, "your wallet", wallet.available_micros)
        )
    wallet = inputs.group_wallet
    if (
        inputs.group_wallet_fallback
        and wallet.account_id is not None
        and wallet.available_micros > 0
    ):
        funding.append(
            FundingPick(
                GROUP_WALLET,
                wallet.account_id,
                f"group wallet '{inputs.group_name}'",
                wallet.available_micros,
            )
        )
    return tuple(funding)


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
        funding.append(_allowance(pkg))
        trace.append(
            TraceStep(
                "packages",
                "pick",
                f"'{pkg.package_name}' pays first with {money(inputs, pkg.available_micros)} left",
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


def insufficient_for_request(
    inputs: PolicyInputs, decision: Decision, model: str, needed_micros: int
) -> SpectraError:
    """The refusal when the allowed sources together cannot hold a request's estimated cost."""
    available = sum(
        min(f.available_micros, f.cap_micros) if f.cap_micros is not None else f.available_micros
        for f in decision.funding
    )
    need = money(inputs, needed_micros)
    first = decision.funding[0] if decision.funding else None
    pkg = _package(inputs, first.assignment_id) if first is not None else None
    if pkg is not None and len(decision.funding) == 1:
        if (
            pkg.max_cost_per_request_micros is not None
            and needed_micros > pkg.max_cost_per_request_micros
        ):
            return PackageAllowanceExhaustedError(
                f"This request would cost about {need}, more than the "
                f"{money(inputs, pkg.max_cost_per_request_micros)} per request that package "
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
        f"Your funding sources have {money(inputs, available)} available, and this request "
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
            rule, "pick", f"{label} pays next with {money(inputs, wallet.available_micros)}", facts
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
            f"Your {noun} {names} {verb} not include {model}{tail}. "
            f"{_choose(inputs.packages, model, noun)}",
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


def _choose(packages: tuple[PackageFacts, ...], model: str, noun: str) -> str:
    """Name the models to choose instead (Claude Code asks for Opus unless told otherwise)."""
    vendor = model.split("-")[0]
    included = best(
        m
        for _, m in known_models()
        if m.split("-")[0] == vendor and any(p.allows(m) for p in packages)
    )
    if not included:
        return "Ask an admin."
    names = " or ".join(included)
    how = (
        f" (Claude Code: claude --model {included[0]}, or ANTHROPIC_MODEL)"
        if vendor == "claude"
        else ""
    )
    return f"Choose a model your {noun} {'includes' if noun == 'package' else 'include'}, such as {names}{how}, or ask an admin."


def _allowance_phrase(inputs: PolicyInputs, pkg: PackageFacts) -> str:
    left = money(inputs, max(pkg.available_micros, 0))
    of = f" of {money(inputs, pkg.allowance_micros)}" if pkg.allowance_micros is not None else ""
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


def _day(inputs: PolicyInputs, at: datetime) -> str:
    local = at.astimezone(ZoneInfo(inputs.time_zone))
    return f"{local.strftime('%b')} {local.day}"


def _s(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)
