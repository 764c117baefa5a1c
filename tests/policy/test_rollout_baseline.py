"""Gates against the baseline: minimum requests, pause and rollback bounds, explanations."""

from __future__ import annotations

from spectra.policy.rollout_baseline import Bound, Facts, evaluate, p95, verdict

BASE = Facts(requests=10_000, errors=50, refused=120, active=100, spend_micros=200_000_000)


def test_a_gate_waits_for_its_minimum_requests_however_bad_the_rate() -> None:
    cohort = Facts(requests=99, errors=99)
    r = evaluate(Bound("error_rate", 100), cohort, BASE, min_requests=100)
    assert r.outcome == "waiting"
    assert r.explanation == "error rate: waiting, 99 of 100 requests needed"


def test_refusal_rate_over_the_baseline_explains_itself() -> None:
    cohort = Facts(requests=812, refused=34)  # 4.18 % vs 1.20 %
    r = evaluate(Bound("refusal_rate", 200, 500), cohort, BASE, min_requests=100)
    assert (r.outcome, r.cohort_value, r.baseline_value, r.over) == ("breached", 418, 120, 298)
    assert r.explanation == (
        "refusal rate 4.18% vs baseline 1.20%, 2.98 points above, over 2.00 points, 812 requests"
    )


def test_past_the_second_bound_it_calls_for_a_rollback() -> None:
    cohort = Facts(requests=1_000, errors=300)
    r = evaluate(Bound("error_rate", 200, 1_000), cohort, BASE, min_requests=100)
    assert r.outcome == "rollback"
    assert "over 10.00 points" in r.explanation


def test_a_cohort_as_healthy_as_its_baseline_holds_even_if_the_baseline_is_bad() -> None:
    bad = Facts(requests=1_000, errors=200)
    cohort = Facts(requests=500, errors=110)  # 22 % vs 20 %: within 3 points
    r = evaluate(Bound("error_rate", 300), cohort, bad, min_requests=100)
    assert r.outcome == "held"
    assert r.explanation.startswith(
        "error rate 22.00% vs baseline 20.00%, 2.00 points above, within"
    )


def test_spend_per_member_compares_micros_per_active_member() -> None:
    cohort = Facts(requests=400, active=10, spend_micros=90_000_000)  # $9 vs $2 per member
    r = evaluate(Bound("spend_per_member", 5_000_000), cohort, BASE, min_requests=100)
    assert (r.outcome, r.cohort_value, r.baseline_value) == ("breached", 9_000_000, 2_000_000)


def test_verdict_takes_the_worst_gate_and_p95_is_nearest_rank() -> None:
    cohort = Facts(requests=1_000, errors=5, refused=700, p95_latency_ms=900)
    v = verdict(
        [Bound("error_rate", 100), Bound("refusal_rate", 100, 2_000), Bound("p95_latency", 500)],
        cohort,
        Facts(requests=1_000, p95_latency_ms=800),
        min_requests=100,
    )
    assert v.outcome == "rollback"
    assert [r.outcome for r in v.results] == ["held", "rollback", "held"]
    assert v.as_json()["outcome"] == "rollback"
    assert p95([]) is None
    assert p95(list(range(1, 101))) == 95
    assert p95([7]) == 7
