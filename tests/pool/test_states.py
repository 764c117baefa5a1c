"""The account state machine, table-tested (pure: no clock, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from spectra.pool.states import (
    AccountState,
    AdminDisable,
    AdminEnable,
    AdminReset,
    Event,
    Failure,
    ProbeResult,
    StatePolicy,
    StateSnapshot,
    Success,
    Tick,
    apply,
)

T0 = datetime(2026, 11, 15, 10, 0, tzinfo=UTC)
S = timedelta(seconds=1)
ACTIVE = StateSnapshot(AccountState.ACTIVE, changed_at=T0 - 60 * S)
COOLING = StateSnapshot(
    AccountState.COOLING, "rate limited", T0 - S, cooling_until=T0 + 30 * S, cool_streak=1
)
FAILING = StateSnapshot(AccountState.FAILING, "3 failures", T0 - S)
ATTENTION = StateSnapshot(AccountState.NEEDS_ATTENTION, "auth failed (401)", T0 - S)
DISABLED = StateSnapshot(AccountState.DISABLED, "disabled by an admin", T0 - S)

CASES: list[tuple[str, StateSnapshot, Event, AccountState, str | None]] = [
    (
        "429 with Retry-After cools until then",
        ACTIVE,
        Failure(T0, "rate_limited", 30.0, 429),
        AccountState.COOLING,
        "Retry-After 30s",
    ),
    (
        "429 without Retry-After backs off",
        ACTIVE,
        Failure(T0, "rate_limited", None, 429),
        AccountState.COOLING,
        "backoff 5s",
    ),
    (
        "529 overloaded cools briefly",
        ACTIVE,
        Failure(T0, "overloaded", None, 529),
        AccountState.COOLING,
        "backoff 2s",
    ),
    (
        "401 needs attention",
        ACTIVE,
        Failure(T0, "auth_failed", None, 401),
        AccountState.NEEDS_ATTENTION,
        "auth failed (401)",
    ),
    (
        "quota exhausted needs attention",
        ACTIVE,
        Failure(T0, "quota_exhausted", None, 429),
        AccountState.NEEDS_ATTENTION,
        "quota",
    ),
    (
        "one 500 is not yet failing",
        ACTIVE,
        Failure(T0, "server_error", None, 500),
        AccountState.ACTIVE,
        None,
    ),
    (
        "caller's bad request changes nothing",
        ACTIVE,
        Failure(T0, "invalid_request", None, 400),
        AccountState.ACTIVE,
        None,
    ),
    (
        "context too long changes nothing",
        ACTIVE,
        Failure(T0, "context_too_long", None, 400),
        AccountState.ACTIVE,
        None,
    ),
    (
        "cooling ends on time",
        COOLING,
        Tick(T0 + 30 * S),
        AccountState.ACTIVE,
        "cooling period over",
    ),
    ("cooling holds before its time", COOLING, Tick(T0 + 29 * S), AccountState.COOLING, None),
    ("success ends cooling", COOLING, Success(T0), AccountState.ACTIVE, "request succeeded"),
    (
        "auth failure while cooling needs attention",
        COOLING,
        Failure(T0, "auth_failed", None, 401),
        AccountState.NEEDS_ATTENTION,
        None,
    ),
    (
        "probe success heals failing",
        FAILING,
        ProbeResult(T0, ok=True),
        AccountState.ACTIVE,
        "probe succeeded",
    ),
    (
        "failed probe keeps failing",
        FAILING,
        ProbeResult(T0, ok=False, failure_type="server_error"),
        AccountState.FAILING,
        None,
    ),
    (
        "scheduled probe does not lift needs_attention",
        ATTENTION,
        ProbeResult(T0, ok=True),
        AccountState.NEEDS_ATTENTION,
        None,
    ),
    (
        "admin probe lifts needs_attention",
        ATTENTION,
        ProbeResult(T0, ok=True, by_admin=True),
        AccountState.ACTIVE,
        "probe succeeded",
    ),
    (
        "traffic success does not lift needs_attention",
        ATTENTION,
        Success(T0),
        AccountState.NEEDS_ATTENTION,
        None,
    ),
    (
        "429 does not hide needs_attention",
        ATTENTION,
        Failure(T0, "rate_limited", 5.0, 429),
        AccountState.NEEDS_ATTENTION,
        None,
    ),
    (
        "admin disables from any state",
        FAILING,
        AdminDisable(T0, "maintenance"),
        AccountState.DISABLED,
        "maintenance",
    ),
    ("disabled ignores successes", DISABLED, Success(T0), AccountState.DISABLED, None),
    (
        "disabled ignores probes",
        DISABLED,
        ProbeResult(T0, ok=True, by_admin=True),
        AccountState.DISABLED,
        None,
    ),
    ("disabled ignores reset", DISABLED, AdminReset(T0), AccountState.DISABLED, None),
    (
        "enable returns to active",
        DISABLED,
        AdminEnable(T0),
        AccountState.ACTIVE,
        "enabled by an admin",
    ),
    (
        "reset clears needs_attention",
        ATTENTION,
        AdminReset(T0),
        AccountState.ACTIVE,
        "reset by an admin",
    ),
    ("reset clears cooling", COOLING, AdminReset(T0), AccountState.ACTIVE, "reset"),
    (
        "probe auth failure needs attention",
        FAILING,
        ProbeResult(T0, ok=False, failure_type="auth_failed"),
        AccountState.NEEDS_ATTENTION,
        None,
    ),
]


@pytest.mark.parametrize(
    ("before", "event", "after", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_transition_table(
    before: StateSnapshot, event: Event, after: AccountState, reason: str | None
) -> None:
    outcome = apply(before, event)
    assert outcome.snapshot.state is after
    if after is before.state and reason is None:
        assert outcome.transition is None
    if reason is not None:
        assert outcome.transition is not None
        assert reason in outcome.transition.reason
        assert outcome.transition.at == event.at
        assert outcome.snapshot.changed_at == event.at


def test_cooling_until_follows_retry_after() -> None:
    outcome = apply(ACTIVE, Failure(T0, "rate_limited", 30.0, 429))
    assert outcome.snapshot.cooling_until == T0 + 30 * S
    assert outcome.transition is not None
    assert outcome.transition.cooling_until == T0 + 30 * S


def test_backoff_doubles_with_consecutive_coolings_and_resets_on_success() -> None:
    snap = ACTIVE
    untils = []
    at = T0
    for _ in range(4):
        snap = apply(snap, Failure(at, "rate_limited")).snapshot
        assert snap.cooling_until is not None
        untils.append((snap.cooling_until - at).total_seconds())
        at = snap.cooling_until
        snap = apply(snap, Tick(at)).snapshot
    assert untils == [5, 10, 20, 40]
    snap = apply(snap, Success(at)).snapshot
    assert snap.cool_streak == 0
    snap = apply(snap, Failure(at, "rate_limited")).snapshot
    assert snap.cooling_until == at + 5 * S


def test_backoff_is_capped() -> None:
    snap = StateSnapshot(AccountState.ACTIVE, cool_streak=30)
    snap = apply(snap, Failure(T0, "rate_limited")).snapshot
    assert snap.cooling_until == T0 + timedelta(minutes=10)


def test_failures_within_window_make_failing() -> None:
    snap = ACTIVE
    for n, kind in enumerate(["server_error", "timeout", "connect_error"]):
        outcome = apply(snap, Failure(T0 + n * S, kind))
        snap = outcome.snapshot
    assert snap.state is AccountState.FAILING
    assert outcome.transition is not None
    assert "3 failures within 120s" in outcome.transition.reason


def test_failures_outside_window_do_not_accumulate() -> None:
    snap = ACTIVE
    for n in range(5):
        snap = apply(snap, Failure(T0 + n * timedelta(minutes=3), "server_error")).snapshot
    assert snap.state is AccountState.ACTIVE
    assert len(snap.failure_times) == 1


def test_stream_broken_counts_as_failure() -> None:
    snap = ACTIVE
    for n in range(3):
        snap = apply(snap, Failure(T0 + n * S, "stream_broken")).snapshot
    assert snap.state is AccountState.FAILING


def test_threshold_is_configurable() -> None:
    policy = StatePolicy(failure_threshold=1)
    assert apply(ACTIVE, Failure(T0, "server_error"), policy).snapshot.state is AccountState.FAILING


def test_success_clears_failure_count() -> None:
    snap = apply(ACTIVE, Failure(T0, "server_error")).snapshot
    snap = apply(snap, Failure(T0 + S, "server_error")).snapshot
    snap = apply(snap, Success(T0 + 2 * S)).snapshot
    snap = apply(snap, Failure(T0 + 3 * S, "server_error")).snapshot
    assert snap.state is AccountState.ACTIVE
    assert len(snap.failure_times) == 1


def test_a_shorter_retry_after_does_not_shorten_cooling() -> None:
    outcome = apply(COOLING, Failure(T0, "rate_limited", 1.0, 429))
    assert outcome.transition is None
    assert outcome.snapshot.cooling_until == COOLING.cooling_until


def test_usable_at() -> None:
    assert ACTIVE.usable_at(T0)
    assert not COOLING.usable_at(T0)
    assert COOLING.usable_at(T0 + 30 * S)
    assert not FAILING.usable_at(T0)
    assert not ATTENTION.usable_at(T0)
    assert not DISABLED.usable_at(T0)
