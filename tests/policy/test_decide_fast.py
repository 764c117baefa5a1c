"""The gateway's traceless decision (`decide_fast`, with the static rules' outcome cached per
snapshot) must answer exactly what `decide` (explain, dry runs) answers, for every rule."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from spectra.policy.decide import (
    STATIC_RULES,
    Decision,
    PackageFacts,
    PolicyInputs,
    WalletFacts,
    decide,
    decide_fast,
    static_refusal,
)
from spectra.policy.facts import BudgetFacts
from spectra.policy.repository import GroupRules
from spectra.policy.rules import RULES
from spectra.policy.snapshot import Snapshot

NOW = datetime(2026, 11, 15, 10, tzinfo=UTC)
MODELS = ("claude-sonnet-4-5", "claude-opus-4-8", "gpt-5", "gemini-2.5-pro")
PATTERNS = st.tuples() | st.lists(
    st.sampled_from(("claude-*", "gpt-*", "gpt-5", "claude-opus-*", "gemini-*")),
    min_size=1,
    max_size=2,
).map(tuple)
CLIENTS = ("claude-code", "openai-sdk", "curl")
AMOUNT = st.sampled_from((0, 1, 500, 1_000_000, -3))
CAP = st.none() | st.sampled_from((0, 1_000, 1_000_000))


@st.composite
def packages(draw: st.DrawFn) -> PackageFacts:
    return PackageFacts(
        assignment_id=uuid.UUID(int=draw(st.integers(1, 1 << 64))),
        package_name=draw(st.sampled_from(("Starter", "Power", "Team"))),
        allowance_account_id=uuid.UUID(int=draw(st.integers(1, 1 << 64))),
        model_patterns=draw(PATTERNS),
        period_ends_at=NOW + timedelta(days=draw(st.sampled_from((-1, 0, 3, 3, 20)))),
        available_micros=draw(AMOUNT),
        allowance_micros=draw(st.none() | st.just(20_000_000)),
        max_cost_per_request_micros=draw(st.none() | st.just(50_000)),
    )


@st.composite
def budgets(draw: st.DrawFn, kind: str) -> BudgetFacts:
    return BudgetFacts(
        kind,
        "this key" if kind == "key" else "project 'apollo'",
        uuid.UUID(int=7),
        draw(st.sampled_from(("day", "week", "month"))),
        draw(st.sampled_from((0, 1_000, 1_000_000))),
        draw(AMOUNT),
        draw(st.sampled_from(("hard", "soft", "approval"))),
        draw(st.sampled_from((0, 500))),
        draw(st.sampled_from((0, 700))),
    )


@st.composite
def inputs(draw: st.DrawFn) -> PolicyInputs:
    wallet = draw(st.none() | st.just(uuid.UUID(int=1)))
    group_wallet = draw(st.none() | st.just(uuid.UUID(int=2)))
    refusal = draw(st.none() | st.just("You are not a member of a project named 'x'."))
    return PolicyInputs(
        user_id=uuid.UUID(int=3),
        user_email="tom@example.com",
        user_status=draw(st.sampled_from(("active", "invited", "suspended", "deactivated"))),
        group_id=uuid.UUID(int=4),
        group_name="Mobile",
        packages=tuple(draw(st.lists(packages(), max_size=3))),
        wallet=WalletFacts(wallet, draw(AMOUNT)),
        group_wallet=WalletFacts(group_wallet, draw(AMOUNT)),
        key_id=uuid.UUID(int=5),
        key_scopes=draw(PATTERNS),
        wallet_fallback=draw(st.booleans()),
        group_wallet_fallback=draw(st.booleans()),
        offered=(("Power", ("claude-*",)),),
        allowed_models=draw(PATTERNS),
        member_models=draw(PATTERNS),
        denied_models=draw(PATTERNS),
        allowed_clients=draw(st.tuples() | st.just(("claude-code",))),
        client=draw(st.none() | st.sampled_from(CLIENTS)),
        group_cap_micros=draw(CAP),
        group_spent_micros=draw(AMOUNT),
        member_cap_micros=draw(CAP),
        member_spent_micros=draw(AMOUNT),
        rpm=draw(st.none() | st.just(60)),
        key_budgets=tuple(draw(st.lists(budgets("key"), max_size=2))),
        key_models=draw(PATTERNS),
        key_clients=draw(st.tuples() | st.just(("openai-sdk",))),
        project_id=None if refusal else draw(st.none() | st.just(uuid.UUID(int=6))),
        project_name="apollo",
        project_via="key",
        project_refusal=refusal,
        project_budget=draw(st.none() | budgets("project")),
    )


def _same(fast: Decision, full: Decision) -> None:
    assert fast.allowed == full.allowed
    assert fast.deciding_rule == full.deciding_rule
    assert fast.reason_code == full.reason_code
    assert fast.message == full.message
    assert fast.funding == full.funding
    assert type(fast.error) is type(full.error)
    if full.error is not None:
        assert fast.error is not None
        assert fast.error.message == full.error.message
        assert fast.trace == full.trace  # a refusal is decided by `decide` itself, with its trace


@settings(max_examples=300, deadline=None)
@given(inputs(), st.sampled_from(MODELS))
def test_fast_decision_equals_the_explained_one(facts: PolicyInputs, model: str) -> None:
    full = decide(facts, model, now=NOW)
    ok = not static_refusal(facts, model)
    _same(decide_fast(facts, model, now=NOW, static_ok=ok), full)
    if full.allowed:
        assert decide_fast(facts, model, now=NOW, static_ok=ok).trace == ()


@settings(max_examples=150, deadline=None)
@given(inputs(), st.sampled_from(MODELS))
def test_static_refusal_is_a_static_rule_of_the_trace(facts: PolicyInputs, model: str) -> None:
    """A static refusal is exactly a refusal by one of `STATIC_RULES` somewhere in the order."""
    scratch: list = []  # type: ignore[type-arg]
    refused_by = [rule.__name__ for rule in RULES if rule(facts, model, scratch) is not None]
    static = {rule.__name__ for rule in STATIC_RULES}
    assert static_refusal(facts, model) == any(name in static for name in refused_by)


def test_a_stale_static_outcome_is_never_trusted_for_an_allow() -> None:
    """Even told the static rules pass, a money refusal is decided by `decide`."""
    facts = PolicyInputs(
        user_id=uuid.UUID(int=3),
        user_email="tom@example.com",
        user_status="active",
        group_id=uuid.UUID(int=4),
        group_name="Mobile",
        packages=(),
        wallet=WalletFacts(uuid.UUID(int=1), 5),
        group_wallet=WalletFacts(None),
        member_cap_micros=10,
        member_spent_micros=10,
    )
    fast = decide_fast(facts, "gpt-5", now=NOW, static_ok=True)
    assert not fast.allowed
    assert fast.deciding_rule == "member_cap"


def test_a_proposed_snapshot_shares_no_cache_with_the_gateways() -> None:
    """The dry run builds its proposal with `dataclasses.replace`: it must neither read the
    gateway's cached member facts nor leave its own in the gateway's snapshot."""
    group, user = uuid.UUID(int=4), uuid.UUID(int=3)
    current = Snapshot(policies={group: GroupRules(allowed_models=("gpt-*",))})
    assert current.member(user, group).rules.allowed_models == ("gpt-*",)
    current.static[(1, "gpt-5", None, None)] = (object(), True)
    proposed = replace(current, policies={group: GroupRules(denied_models=("gpt-5",))})
    assert not proposed.static
    assert proposed.member(user, group).rules.denied_models == ("gpt-5",)
    assert current.member(user, group).rules.allowed_models == ("gpt-*",)
    assert current.member(user, group).rules.denied_models == ()
    current.policies[group] = GroupRules()
    current.changed()
    assert current.member(user, group).rules == GroupRules()
    assert not current.static
