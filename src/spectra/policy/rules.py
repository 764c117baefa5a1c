"""The access rules of the decision, each alone: it appends its trace step and answers its
refusal, or None to go on. `RULES` is their order, and the order is the policy (decide.py's
docstring says what each rule checks)."""

from __future__ import annotations

from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import Any

from spectra.errors import SpectraError

from .budget_rules import key_budget, key_limits, project, project_budget
from .errors import (
    ClientNotAllowedError,
    GroupCapReachedError,
    MemberCapReachedError,
    ModelDeniedByGroupError,
    ModelNotAllowedByGroupError,
    ModelNotInKeyScopeError,
    UserNotActiveError,
)
from .facts import USABLE_USER_STATUSES, PolicyInputs, TraceStep, id_text, money

Rule = Callable[[PolicyInputs, str, list[TraceStep]], SpectraError | None]
"""One access rule: appends its trace step and answers the refusal, or None to go on."""


def _matches(model: str, patterns: tuple[str, ...]) -> list[str]:
    return [p for p in patterns if fnmatchcase(model, p)]


def key_scope(inputs: PolicyInputs, model: str, trace: list[TraceStep]) -> SpectraError | None:
    """Rule 1: the key's model scope."""
    facts = {"key_id": id_text(inputs.key_id), "scopes": list(inputs.key_scopes), "model": model}
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
        f"Your group '{group}' has used its {money(inputs, cap)} monthly cap "
        f"({money(inputs, spent)} spent this month); ask an admin to raise it.",
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
        f"You have used your {money(inputs, cap)} monthly cap in group '{inputs.group_name}' "
        f"({money(inputs, spent)} spent this month); ask an admin to raise it.",
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
                f"{whose} spent {money(inputs, spent)} of the {money(inputs, cap)} monthly cap",
                facts,
            )
        )
        return cap
    trace.append(
        TraceStep(
            rule,
            "pass",
            f"{whose} spent {money(inputs, spent)} of {money(inputs, cap)}; "
            f"{money(inputs, cap - spent)} left this month",
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
    key_limits,
    key_budget,
    project,
    project_budget,
    request_limits,
)
"""The access rules, in order: the order is the policy (the first refusal decides)."""
