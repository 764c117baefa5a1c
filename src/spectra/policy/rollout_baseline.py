"""Gates against a baseline (pure): the cohort's rates over a period compared with the members
not yet in the rollout over the same period.

A gate holds, warns nothing, or is breached; with a second, wider bound it can call for a
rollback. It counts only once the cohort has made `min_requests` requests (before that it is
"waiting", never breached), and each evaluation explains itself in one sentence:
"refusal rate 4.10% vs baseline 1.20%, over 3.00 points, 812 requests".

Rates are exact integers: basis points (1/100 %) of requests, floor division; a bound is
"points over the baseline" in basis points too (300 = 3.00 points). Spend is integer micros
per active member; p95 latency in milliseconds, where the usage records carry a latency.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from spectra.kit.money import format_amount

Outcome = Literal["waiting", "held", "breached", "rollback"]
GATES = ("error_rate", "refusal_rate", "spend_per_member", "p95_latency", "budget_alerts")


@dataclass(frozen=True, slots=True)
class Facts:
    """One side's aggregated usage over the period."""

    requests: int = 0
    errors: int = 0
    refused: int = 0
    active: int = 0
    spend_micros: int = 0
    p95_latency_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Bound:
    """A gate: `pause_over` above the baseline pauses; `rollback_over` (wider) rolls back."""

    gate: str
    pause_over: int
    rollback_over: int | None = None


@dataclass(frozen=True, slots=True)
class GateResult:
    gate: str
    outcome: Outcome
    cohort_value: int
    baseline_value: int
    over: int
    requests: int
    explanation: str

    def as_json(self) -> dict[str, object]:
        return {
            "gate": self.gate,
            "outcome": self.outcome,
            "cohort": self.cohort_value,
            "baseline": self.baseline_value,
            "over": self.over,
            "requests": self.requests,
            "explanation": self.explanation,
        }


def rate_bp(part: int, whole: int) -> int:
    return part * 10_000 // whole if whole else 0


def value_of(gate: str, facts: Facts) -> int | None:
    """The gate's measure on one side; None when the side has nothing to measure."""
    if gate == "error_rate":
        return rate_bp(facts.errors, facts.requests)
    if gate == "refusal_rate":
        return rate_bp(facts.refused, facts.requests)
    if gate == "spend_per_member":
        return facts.spend_micros // facts.active if facts.active else 0
    if gate == "p95_latency":
        return facts.p95_latency_ms
    raise ValueError(f"unknown gate {gate!r}")


def show_value(gate: str, value: int) -> str:
    if gate == "budget_alerts":
        return f"{value} alert{'' if value == 1 else 's'}"
    if gate.endswith("_rate"):
        return f"{value / 100:.2f}%"
    if gate == "spend_per_member":
        return format_amount(value)
    return f"{value} ms"


def _show_over(gate: str, over: int) -> str:
    if gate.endswith("_rate"):
        return f"{over / 100:.2f} points"
    return show_value(gate, over)


def evaluate(bound: Bound, cohort: Facts, baseline: Facts, *, min_requests: int) -> GateResult:
    """One gate on the cohort against the baseline (same period)."""
    label = bound.gate.replace("_", " ")
    mine = value_of(bound.gate, cohort)
    theirs = value_of(bound.gate, baseline)
    if cohort.requests < min_requests or mine is None:
        return GateResult(
            bound.gate,
            "waiting",
            mine or 0,
            theirs or 0,
            0,
            cohort.requests,
            f"{label}: waiting, {cohort.requests} of {min_requests} requests needed",
        )
    base = theirs or 0
    over = mine - base
    outcome: Outcome = "held"
    if bound.rollback_over is not None and over > bound.rollback_over:
        outcome, limit = "rollback", bound.rollback_over
    elif over > bound.pause_over:
        outcome, limit = "breached", bound.pause_over
    else:
        limit = bound.pause_over
    word = "over" if outcome != "held" else "within"
    sign = over if over >= 0 else 0
    return GateResult(
        bound.gate,
        outcome,
        mine,
        base,
        over,
        cohort.requests,
        f"{label} {show_value(bound.gate, mine)} vs baseline {show_value(bound.gate, base)}, "
        f"{_show_over(bound.gate, sign)} above, {word} {_show_over(bound.gate, limit)}, "
        f"{cohort.requests} requests",
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    """All gates together: the worst outcome wins (rollback > breached > waiting > held)."""

    outcome: Outcome
    results: tuple[GateResult, ...]

    @property
    def explanation(self) -> str:
        return "; ".join(r.explanation for r in self.results) or "no gates"

    def as_json(self) -> dict[str, object]:
        return {
            "outcome": self.outcome,
            "explanation": self.explanation,
            "gates": [r.as_json() for r in self.results],
        }


_RANK: dict[Outcome, int] = {"held": 0, "waiting": 1, "breached": 2, "rollback": 3}


def verdict(bounds: list[Bound], cohort: Facts, baseline: Facts, *, min_requests: int) -> Verdict:
    results = tuple(evaluate(b, cohort, baseline, min_requests=min_requests) for b in bounds)
    worst: Outcome = "held"
    for r in results:
        if _RANK[r.outcome] > _RANK[worst]:
            worst = r.outcome
    return Verdict(worst, results)


def p95(latencies: list[int]) -> int | None:
    """Nearest-rank 95th percentile of integer latencies (None when there are none)."""
    if not latencies:
        return None
    ordered = sorted(latencies)
    rank = -(-95 * len(ordered) // 100)  # ceil(0.95 n), exact in integers
    return ordered[max(rank, 1) - 1]


def budget_alert_result(titles: list[str], requests: int) -> GateResult:
    """The budget-alert gate: any budget alert raised for the wave since its promotion breaches
    it (no baseline, no minimum of requests: an alert is a fact, not a rate)."""
    if not titles:
        return GateResult(
            "budget_alerts", "held", 0, 0, 0, requests, "budget alerts: none since the promotion"
        )
    shown = "; ".join(titles[:3]) + (f"; and {len(titles) - 3} more" if len(titles) > 3 else "")
    return GateResult(
        "budget_alerts",
        "breached",
        len(titles),
        0,
        len(titles),
        requests,
        f"budget alerts: {len(titles)} since the promotion ({shown})",
    )


def with_result(before: Verdict, result: GateResult) -> Verdict:
    """The verdict with one more gate's result (the worst outcome still wins)."""
    results = (*before.results, result)
    worst: Outcome = before.outcome
    if _RANK[result.outcome] > _RANK[worst]:
        worst = result.outcome
    return Verdict(worst, results)
