"""The budget rules of the decision (pure): key limits, key budgets by mode, the project
attribution and its budget, the estimate check against in-flight reservations, and the
budget state the alerts read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from spectra.budgets.terms import BudgetTerms, KeyTerms, ProjectTerms
from spectra.policy.budget_counters import BudgetCounters, period_start
from spectra.policy.budget_inputs import budget_inputs
from spectra.policy.budget_rules import budget_subjects, reserve_budget
from spectra.policy.decide import decide
from spectra.policy.facts import PolicyInputs, WalletFacts

NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
USER = uuid.uuid4()
KEY = uuid.uuid4()
WALLET = uuid.uuid4()


def _terms(mode: str = "hard", **key: object) -> BudgetTerms:
    values: dict[str, object] = {
        "day_micros": 1_000_000,
        "week_micros": None,
        "month_micros": None,
        "mode": mode,
        "rpm": None,
        "tpm": None,
        "concurrency": None,
        "models": (),
        "clients": (),
    }
    values.update(key)
    terms = BudgetTerms()
    terms.keys[KEY] = KeyTerms(**values)  # type: ignore[arg-type]
    return terms


def _inputs(terms: BudgetTerms, counters: BudgetCounters, header: str | None = None,
            client: str | None = None) -> PolicyInputs:  # fmt: skip
    return PolicyInputs(
        user_id=USER,
        user_email="dev@example.com",
        user_status="active",
        group_id=uuid.uuid4(),
        group_name="team",
        packages=(),
        wallet=WalletFacts(WALLET, 50_000_000),
        group_wallet=WalletFacts(None),
        key_id=KEY,
        client=client,
        **budget_inputs(terms, counters, user_id=USER, key_id=KEY, project_header=header, now=NOW),
    )


def _spent(micros: int) -> BudgetCounters:
    counters = BudgetCounters()
    counters.add(key_id=KEY, project_id=None, micros=micros, at=NOW)
    return counters


@pytest.mark.parametrize(
    ("mode", "spent", "reason", "outcome"),
    [
        ("hard", 999_999, None, "pass"),
        ("hard", 1_000_000, "key_budget_exhausted", "deny"),
        ("approval", 1_000_000, "key_budget_exhausted", "deny"),
        ("soft", 5_000_000, None, "warn"),
    ],
)
def test_key_budget_by_mode_at_the_boundary(
    mode: str, spent: int, reason: str | None, outcome: str
) -> None:
    decision = decide(_inputs(_terms(mode), _spent(spent)), "gpt-5", now=NOW)
    assert decision.reason_code == reason
    step = next(s for s in decision.trace if s.rule == "key_budget")
    assert step.outcome == outcome
    assert step.inputs["spent_micros"] == spent


def test_an_approved_extension_counts_until_it_expires() -> None:
    terms = _terms("approval")
    terms.extensions[KEY] = ((500_000, NOW + timedelta(minutes=1)),)
    allowed = decide(_inputs(terms, _spent(1_200_000)), "gpt-5", now=NOW)
    assert allowed.allowed
    terms.extensions[KEY] = ((500_000, NOW),)
    assert decide(_inputs(terms, _spent(1_200_000)), "gpt-5", now=NOW).reason_code == (
        "key_budget_exhausted"
    )


def test_key_models_and_clients() -> None:
    terms = _terms(models=("claude-*",), clients=("claude_code",))
    counters = BudgetCounters()
    assert decide(_inputs(terms, counters), "gpt-5", now=NOW).reason_code == (
        "model_not_allowed_for_key"
    )
    assert decide(_inputs(terms, counters, client="cursor"), "claude-x", now=NOW).reason_code == (
        "client_not_allowed_for_key"
    )
    assert decide(_inputs(terms, counters, client="claude_code"), "claude-x", now=NOW).allowed


async def test_the_estimate_check_counts_reservations_in_flight() -> None:
    counters = _spent(400_000)
    inputs = _inputs(_terms(), counters)
    assert await reserve_budget(inputs, "r1", 600_000, counters, NOW) is None
    assert counters.pending(KEY) == 600_000
    refused = await reserve_budget(inputs, "r2", 1, counters, NOW)
    assert refused is not None
    assert (refused[0], refused[1].code) == ("key_budget", "key_budget_exhausted")
    assert counters.pending(KEY) == 600_000  # a refusal reserves nothing
    await counters.release("r1", budget_subjects(inputs), 600_000)
    assert await reserve_budget(inputs, "r3", 600_000, counters, NOW) is None
    soft = _inputs(_terms("soft"), counters)
    assert await reserve_budget(soft, "r4", 10_000_000, counters, NOW) is None


def test_the_header_needs_membership_and_the_projects_consent() -> None:
    terms = BudgetTerms()
    mine, theirs, closed = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for pid, name, members, allowed in (
        (mine, "mine", {USER}, True),
        (theirs, "theirs", {uuid.uuid4()}, True),
        (closed, "closed", {USER}, False),
    ):
        terms.projects[pid] = ProjectTerms(
            pid, name, 2_000_000, "hard", allowed, frozenset(members)
        )
        terms.by_name[name] = pid
    counters = BudgetCounters()
    ok = _inputs(terms, counters, header="mine")
    assert (ok.project_id, ok.project_via) == (mine, "header")
    assert ok.project_budget is not None
    for header in ("theirs", "closed", "nope"):
        decision = decide(_inputs(terms, counters, header=header), "gpt-5", now=NOW)
        assert (decision.reason_code, decision.deciding_rule) == ("project_not_allowed", "project")
    terms.key_projects[KEY] = theirs
    by_key = _inputs(terms, counters)
    assert (by_key.project_id, by_key.project_via) == (theirs, "key")
    assert _inputs(terms, counters, header="mine").project_refusal is not None
    # Naming the key's own project is no attribution by header: nothing to refuse.
    same = _inputs(terms, counters, header="theirs")
    assert (same.project_refusal, same.project_id, same.project_via) == (None, theirs, "key")


def test_periods_start_at_local_midnight_monday_and_the_first() -> None:
    at = datetime(2026, 11, 18, 3, 0, tzinfo=UTC)  # a Wednesday
    assert period_start("day", at, "UTC") == datetime(2026, 11, 18, tzinfo=UTC)
    assert period_start("week", at, "UTC") == datetime(2026, 11, 16, tzinfo=UTC)
    assert period_start("month", at, "UTC") == datetime(2026, 11, 1, tzinfo=UTC)
    # 03:00 UTC is still the 17th in New York.
    assert period_start("day", at, "America/New_York").day == 17


def test_counters_roll_over_with_the_day_but_keep_the_week() -> None:
    counters = _spent(700_000)
    later = NOW + timedelta(days=1)
    assert counters.key_spent(KEY, later) == {"day": 0, "week": 700_000, "month": 700_000}
