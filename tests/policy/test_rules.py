"""Each access rule alone, and that an earlier rule decides first (the order of every step is
pinned by test_decide_group.test_trace_lists_every_rule_in_order_with_inputs)."""

from __future__ import annotations

from spectra.policy import decide as policy
from spectra.policy import rules
from spectra.policy.facts import TraceStep

from .test_decide import NOW, _inputs, _pkg


def test_key_scope_alone_refuses_a_model_outside_the_scope() -> None:
    trace: list[TraceStep] = []
    refusal = rules.key_scope(_inputs(key_scopes=("gpt-*",)), "claude-opus-4-8", trace)
    assert refusal is not None
    assert refusal.code == "model_not_in_key_scope"
    assert [(t.rule, t.outcome) for t in trace] == [("key_scope", "deny")]


def test_user_status_alone_refuses_a_suspended_user_and_passes_an_invited_one() -> None:
    trace: list[TraceStep] = []
    assert rules.user_status(_inputs(user_status="suspended"), "m", trace) is not None
    assert rules.user_status(_inputs(user_status="invited"), "m", trace) is None
    assert [t.outcome for t in trace] == ["deny", "pass"]


def test_group_allow_alone_lets_a_member_grant_through() -> None:
    trace: list[TraceStep] = []
    inputs = _inputs(allowed_models=("gpt-*",), member_models=("claude-*",))
    assert rules.group_allow(inputs, "claude-opus-4-8", trace) is None
    assert trace[0].detail == "you were granted claude-*"


def test_client_alone_skips_when_the_client_is_unknown() -> None:
    trace: list[TraceStep] = []
    assert rules.client(_inputs(allowed_clients=("claude-code",)), "m", trace) is None
    assert [(t.rule, t.outcome) for t in trace] == [("client", "skip")]


def test_member_cap_alone_refuses_at_the_cap() -> None:
    trace: list[TraceStep] = []
    refusal = rules.member_cap(
        _inputs(member_cap_micros=5_000_000, member_spent_micros=5_000_000), "m", trace
    )
    assert refusal is not None
    assert refusal.code == "member_cap_reached"
    assert trace[0].outcome == "deny"


def test_an_earlier_rule_decides_before_a_later_one() -> None:
    """A key out of scope for a suspended user over the cap is refused by the key scope."""
    inputs = _inputs(
        _pkg("Starter", ("claude-*",), 1_000_000),
        key_scopes=("gpt-*",),
        user_status="suspended",
        group_cap_micros=1,
        group_spent_micros=1,
    )
    decision = policy.decide(inputs, "claude-opus-4-8", now=NOW)
    assert decision.deciding_rule == "key_scope"
    assert len(decision.trace) == 1
