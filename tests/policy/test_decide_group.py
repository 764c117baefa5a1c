"""Table tests of the group rules in the access decision: allow/deny precedence, caps at the
boundary, the wallet fallbacks, client restrictions, and the trace's inputs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from spectra.policy.decide import PackageFacts, PolicyInputs, WalletFacts, decide

NOW = datetime(2026, 11, 15, 10, tzinfo=UTC)
DEC1 = datetime(2026, 12, 1, tzinfo=UTC)
CAP = 100_000_000


def _pkg(patterns: tuple[str, ...], left: int = 5_000_000) -> PackageFacts:
    return PackageFacts(
        assignment_id=uuid.uuid4(),
        package_name="Pro",
        allowance_account_id=uuid.uuid4(),
        model_patterns=patterns,
        period_ends_at=DEC1,
        available_micros=left,
        allowance_micros=20_000_000,
    )


def _inputs(**kw: Any) -> PolicyInputs:
    values: dict[str, Any] = {
        "user_id": uuid.uuid4(),
        "user_email": "ana@example.com",
        "user_status": "active",
        "group_id": uuid.uuid4(),
        "group_name": "Mobile",
        "packages": (),
        "wallet": WalletFacts(uuid.uuid4(), 5_000_000),
        "group_wallet": WalletFacts(uuid.uuid4(), 0),
    }
    values.update(kw)
    return PolicyInputs(**values)


PRECEDENCE = [
    # (case, inputs, model, reason or None = allowed, deciding rule)
    ("no group rules", {}, "claude-opus-4-8", None, "funding"),
    ("allowed pattern", {"allowed_models": ("claude-*",)}, "claude-opus-4-8", None, "funding"),
    (
        "not in allowed patterns",
        {"allowed_models": ("claude-sonnet-*",)},
        "claude-opus-4-8",
        "model_not_allowed",
        "group_allow",
    ),
    (
        "explicit deny beats allow pattern",
        {"allowed_models": ("claude-*",), "denied_models": ("claude-opus-*",)},
        "claude-opus-4-8",
        "model_denied",
        "group_deny",
    ),
    (
        "explicit deny beats a package that includes the model",
        {"denied_models": ("claude-opus-*",), "packages": (_pkg(("claude-*",)),)},
        "claude-opus-4-8",
        "model_denied",
        "group_deny",
    ),
    (
        "explicit deny beats a member grant",
        {
            "allowed_models": ("claude-sonnet-*",),
            "member_models": ("claude-opus-*",),
            "denied_models": ("claude-opus-4-8",),
        },
        "claude-opus-4-8",
        "model_denied",
        "group_deny",
    ),
    (
        "member grant widens the group's allowed models",
        {"allowed_models": ("claude-sonnet-*",), "member_models": ("claude-opus-*",)},
        "claude-opus-4-8",
        None,
        "funding",
    ),
    (
        "a package does not widen the group's allowed models",
        {"allowed_models": ("claude-sonnet-*",), "packages": (_pkg(("claude-*",)),)},
        "claude-opus-4-8",
        "model_not_allowed",
        "group_allow",
    ),
    (
        "deny of another model does not refuse",
        {"denied_models": ("gpt-*",)},
        "claude-opus-4-8",
        None,
        "funding",
    ),
    (
        "key scope is checked before group rules",
        {"key_scopes": ("gpt-*",), "denied_models": ("claude-*",)},
        "claude-opus-4-8",
        "model_not_in_key_scope",
        "key_scope",
    ),
]


@pytest.mark.parametrize(
    ("inputs", "model", "reason", "rule"),
    [case[1:] for case in PRECEDENCE],
    ids=[case[0] for case in PRECEDENCE],
)
def test_allow_deny_precedence(
    inputs: dict[str, Any], model: str, reason: str | None, rule: str
) -> None:
    decision = decide(_inputs(**inputs), model, now=NOW)
    assert decision.reason_code == reason
    assert decision.allowed is (reason is None)
    assert decision.deciding_rule == rule


CAPS = [
    ("group: one micro under the cap", "group", CAP - 1, None),
    ("group: exactly at the cap", "group", CAP, "group_cap_reached"),
    ("group: one micro over the cap", "group", CAP + 1, "group_cap_reached"),
    ("member: one micro under the cap", "member", CAP - 1, None),
    ("member: exactly at the cap", "member", CAP, "member_cap_reached"),
    ("member: one micro over the cap", "member", CAP + 1, "member_cap_reached"),
]


@pytest.mark.parametrize(
    ("who", "spent", "reason"), [c[1:] for c in CAPS], ids=[c[0] for c in CAPS]
)
def test_caps_at_the_boundary(who: str, spent: int, reason: str | None) -> None:
    inputs = _inputs(**{f"{who}_cap_micros": CAP, f"{who}_spent_micros": spent})
    decision = decide(inputs, "gpt-5", now=NOW)
    assert decision.reason_code == reason
    step = next(s for s in decision.trace if s.rule == f"{who}_cap")
    assert step.inputs == {
        "cap_micros": CAP,
        "spent_micros": spent,
        "remaining_micros": CAP - spent,
    }
    assert step.outcome == ("pass" if reason is None else "deny")


def test_the_group_cap_counts_before_the_member_cap() -> None:
    inputs = _inputs(
        group_cap_micros=CAP, group_spent_micros=CAP, member_cap_micros=CAP, member_spent_micros=CAP
    )
    assert decide(inputs, "gpt-5", now=NOW).reason_code == "group_cap_reached"


def test_cap_refusal_sentence() -> None:
    decision = decide(
        _inputs(member_cap_micros=50_000_000, member_spent_micros=50_000_000), "gpt-5", now=NOW
    )
    assert decision.message == (
        "You have used your $50.00 monthly cap in group 'Mobile' ($50.00 spent this month); "
        "ask an admin to raise it."
    )


FALLBACK = [
    # (case, switches, wallet, group wallet, package left, reason, funding kinds)
    ("wallet on pays", (True, True), 5, 0, None, None, ["user_wallet"]),
    ("wallet off, group wallet on", (False, True), 5, 7, None, None, ["group_wallet"]),
    ("both off, no package", (False, False), 5, 7, None, "no_funding_source", []),
    ("both off, package pays", (False, False), 5, 7, 3, None, ["allowance"]),
    (
        "both off, package exhausted",
        (False, False),
        5,
        7,
        0,
        "package_allowance_exhausted",
        [],
    ),
    ("on, package exhausted, wallet pays", (True, False), 5, 7, 0, None, ["user_wallet"]),
    (
        "on, package then wallets",
        (True, True),
        5,
        7,
        3,
        None,
        ["allowance", "user_wallet", "group_wallet"],
    ),
]


@pytest.mark.parametrize(
    ("switches", "wallet", "group_wallet", "left", "reason", "kinds"),
    [c[1:] for c in FALLBACK],
    ids=[c[0] for c in FALLBACK],
)
def test_wallet_fallback(
    switches: tuple[bool, bool],
    wallet: int,
    group_wallet: int,
    left: int | None,
    reason: str | None,
    kinds: list[str],
) -> None:
    inputs = _inputs(
        wallet=WalletFacts(uuid.uuid4(), wallet),
        group_wallet=WalletFacts(uuid.uuid4(), group_wallet),
        wallet_fallback=switches[0],
        group_wallet_fallback=switches[1],
        packages=() if left is None else (_pkg(("gpt-*",), left),),
    )
    decision = decide(inputs, "gpt-5", now=NOW)
    assert decision.reason_code == reason
    assert [f.kind for f in decision.funding] == kinds


CLIENTS = [
    ("any client when none listed", (), "aider", None),
    ("listed client passes", ("claude_code", "codex_cli"), "codex_cli", None),
    ("unlisted client refused", ("claude_code", "codex_cli"), "cursor", "client_not_allowed"),
    ("unknown client (explain) not checked", ("claude_code",), None, None),
]


@pytest.mark.parametrize(
    ("allowed", "client", "reason"), [c[1:] for c in CLIENTS], ids=[c[0] for c in CLIENTS]
)
def test_client_restrictions(
    allowed: tuple[str, ...], client: str | None, reason: str | None
) -> None:
    decision = decide(_inputs(allowed_clients=allowed, client=client), "gpt-5", now=NOW)
    assert decision.reason_code == reason
    step = next(s for s in decision.trace if s.rule == "client")
    assert step.inputs == {"allowed_clients": list(allowed), "client": client}


def test_trace_lists_every_rule_in_order_with_inputs() -> None:
    inputs = _inputs(
        allowed_models=("gpt-*",),
        group_cap_micros=CAP,
        group_spent_micros=40_000_000,
        rpm=30,
        default_package="Pro",
    )
    decision = decide(inputs, "gpt-5", now=NOW)
    assert [s.rule for s in decision.trace] == [
        "key_scope",
        "user_status",
        "group_deny",
        "group_allow",
        "client",
        "group_cap",
        "member_cap",
        "key_limits",
        "key_budget",
        "project",
        "project_budget",
        "request_limits",
        "packages",
        "wallet",
        "group_wallet",
        "funding",
    ]
    by_rule = {s.rule: s for s in decision.trace}
    assert by_rule["group_cap"].detail == (
        "group 'Mobile' spent $40.00 of $100.00; $60.00 left this month"
    )
    assert by_rule["group_allow"].inputs["default_package"] == "Pro"
    assert by_rule["request_limits"].inputs == {"rpm": 30, "tpm": None, "max_concurrent": None}
    assert decision.funding[0].kind == "user_wallet"
