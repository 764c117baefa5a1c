"""The account state machine, pure: (snapshot, event) -> snapshot, with a reason for each change.

    active ──429/529/overload──▶ cooling (until Retry-After, else exponential backoff)
    active ──N countable failures within the window──▶ failing
    any ──401/403, quota exhausted──▶ needs_attention
    any ──admin disable──▶ disabled ──admin enable──▶ active
    cooling ──time passes, or a success──▶ active
    failing ──successful probe (or success)──▶ active
    needs_attention ──admin-triggered successful probe (e.g. after rotating the credential)──▶ active

Failures are the upstream taxonomy's types (`spectra.providers.errors.FailureType` values);
`invalid_request` and `context_too_long` are the caller's fault and change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum


class AccountState(StrEnum):
    ACTIVE = "active"
    COOLING = "cooling"
    FAILING = "failing"
    NEEDS_ATTENTION = "needs_attention"
    DISABLED = "disabled"


COOLING_TYPES = frozenset({"rate_limited", "overloaded"})
ATTENTION_TYPES = frozenset({"auth_failed", "quota_exhausted"})
COUNTED_TYPES = frozenset({"server_error", "timeout", "connect_error", "stream_broken"})
CALLER_TYPES = frozenset({"invalid_request", "context_too_long"})

_DESCRIBE = {
    "rate_limited": "rate limited",
    "overloaded": "provider overloaded",
    "auth_failed": "auth failed",
    "quota_exhausted": "provider quota exhausted",
    "server_error": "server errors",
    "timeout": "timeouts",
    "connect_error": "connection errors",
    "stream_broken": "broken streams",
}


@dataclass(frozen=True, slots=True)
class StatePolicy:
    """Tunable thresholds of the state machine."""

    failure_threshold: int = 3
    """Countable failures within `failure_window` that make an account `failing`."""
    failure_window: timedelta = timedelta(minutes=2)
    backoff_base: timedelta = timedelta(seconds=5)
    """First cooling without a Retry-After; doubles with each consecutive cooling."""
    backoff_max: timedelta = timedelta(minutes=10)
    overload_base: timedelta = timedelta(seconds=2)
    """Overload is often provider-wide: rest briefly, then try again."""


@dataclass(frozen=True, slots=True)
class StateSnapshot:
    state: AccountState = AccountState.ACTIVE
    reason: str = ""
    changed_at: datetime | None = None
    cooling_until: datetime | None = None
    cool_streak: int = 0
    failure_times: tuple[datetime, ...] = ()

    def usable_at(self, now: datetime) -> bool:
        """Whether live traffic may use the account now (cooling counts once its time is over)."""
        if self.state is AccountState.ACTIVE:
            return True
        return (
            self.state is AccountState.COOLING
            and self.cooling_until is not None
            and self.cooling_until <= now
        )


@dataclass(frozen=True, slots=True)
class Success:
    at: datetime


@dataclass(frozen=True, slots=True)
class Failure:
    at: datetime
    failure_type: str
    retry_after: float | None = None
    status: int | None = None


@dataclass(frozen=True, slots=True)
class ProbeResult:
    at: datetime
    ok: bool
    failure_type: str | None = None
    retry_after: float | None = None
    status: int | None = None
    by_admin: bool = False
    """An admin asked for it ("test account", rotate credential): may lift `needs_attention`."""


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed: ends a cooling period that is over."""

    at: datetime


@dataclass(frozen=True, slots=True)
class AdminDisable:
    at: datetime
    reason: str = ""


@dataclass(frozen=True, slots=True)
class AdminEnable:
    at: datetime


@dataclass(frozen=True, slots=True)
class AdminReset:
    at: datetime


Event = Success | Failure | ProbeResult | Tick | AdminDisable | AdminEnable | AdminReset


@dataclass(frozen=True, slots=True)
class Outcome:
    """The snapshot after an event; `transition` is set when the state changed (or restarted)."""

    snapshot: StateSnapshot
    transition: Transition | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    from_state: AccountState
    to_state: AccountState
    reason: str
    at: datetime
    failure_type: str | None = None
    cooling_until: datetime | None = None


def apply(snapshot: StateSnapshot, event: Event, policy: StatePolicy | None = None) -> Outcome:
    """Decide the account's next state. Pure: no clock, no I/O."""
    policy = policy or StatePolicy()
    state = snapshot.state
    if isinstance(event, AdminDisable):
        reason = f"disabled by an admin: {event.reason}" if event.reason else "disabled by an admin"
        return _move(snapshot, AccountState.DISABLED, reason, event.at)
    if state is AccountState.DISABLED:
        if isinstance(event, AdminEnable):
            return _move(snapshot, AccountState.ACTIVE, "enabled by an admin", event.at)
        return Outcome(snapshot)
    if isinstance(event, AdminEnable):
        return Outcome(snapshot)
    if isinstance(event, AdminReset):
        if state is AccountState.ACTIVE and not snapshot.failure_times and not snapshot.cool_streak:
            return Outcome(snapshot)
        return _move(snapshot, AccountState.ACTIVE, "state reset by an admin", event.at)
    if isinstance(event, Tick):
        if (
            state is AccountState.COOLING
            and snapshot.cooling_until is not None
            and snapshot.cooling_until <= event.at
        ):
            return _move(snapshot, AccountState.ACTIVE, "cooling period over", event.at)
        return Outcome(snapshot)
    if isinstance(event, Success):
        if state is AccountState.NEEDS_ATTENTION:
            return Outcome(snapshot)
        if state is AccountState.ACTIVE:
            if snapshot.failure_times or snapshot.cool_streak:
                return Outcome(replace(snapshot, failure_times=(), cool_streak=0))
            return Outcome(snapshot)
        return _move(snapshot, AccountState.ACTIVE, "request succeeded", event.at)
    if isinstance(event, ProbeResult):
        if event.ok:
            if state is AccountState.NEEDS_ATTENTION and not event.by_admin:
                return Outcome(snapshot)
            if state is AccountState.ACTIVE:
                return Outcome(replace(snapshot, failure_times=(), cool_streak=0))
            return _move(snapshot, AccountState.ACTIVE, "probe succeeded", event.at)
        if event.failure_type is None:
            return Outcome(snapshot)
        failure = Failure(
            at=event.at,
            failure_type=event.failure_type,
            retry_after=event.retry_after,
            status=event.status,
        )
        if state is AccountState.FAILING and event.failure_type in COUNTED_TYPES:
            return Outcome(snapshot)
        return _fail(snapshot, failure, policy, via="probe")
    return _fail(snapshot, event, policy, via="request")


def _fail(snapshot: StateSnapshot, event: Failure, policy: StatePolicy, *, via: str) -> Outcome:
    kind = event.failure_type
    label = _DESCRIBE.get(kind, kind)
    status = f" ({event.status})" if event.status else ""
    if kind in ATTENTION_TYPES:
        if snapshot.state is AccountState.NEEDS_ATTENTION:
            return Outcome(snapshot)
        return _move(
            snapshot, AccountState.NEEDS_ATTENTION, f"{label}{status}", event.at, failure_type=kind
        )
    if snapshot.state is AccountState.NEEDS_ATTENTION:
        return Outcome(snapshot)
    if kind in COOLING_TYPES:
        if event.retry_after is not None:
            seconds = max(event.retry_after, 0.0)
            hint = f"Retry-After {seconds:g}s"
        else:
            base = policy.overload_base if kind == "overloaded" else policy.backoff_base
            seconds = min(
                base.total_seconds() * 2**snapshot.cool_streak, policy.backoff_max.total_seconds()
            )
            hint = f"backoff {seconds:g}s"
        until = event.at + timedelta(seconds=seconds)
        if (
            snapshot.state is AccountState.COOLING
            and snapshot.cooling_until
            and snapshot.cooling_until >= until
        ):
            return Outcome(snapshot)
        if snapshot.state is AccountState.FAILING:
            return Outcome(snapshot)
        return _move(
            snapshot,
            AccountState.COOLING,
            f"{label}{status}, {hint}",
            event.at,
            failure_type=kind,
            cooling_until=until,
            cool_streak=snapshot.cool_streak + 1,
        )
    if kind in COUNTED_TYPES:
        horizon = event.at - policy.failure_window
        recent = (*tuple(t for t in snapshot.failure_times if t > horizon), event.at)
        if snapshot.state is AccountState.FAILING:
            return Outcome(replace(snapshot, failure_times=recent[-policy.failure_threshold :]))
        if len(recent) >= policy.failure_threshold:
            window = int(policy.failure_window.total_seconds())
            reason = f"{len(recent)} failures within {window}s, last: {label}{status} ({via})"
            return _move(
                snapshot,
                AccountState.FAILING,
                reason,
                event.at,
                failure_type=kind,
                failure_times=recent,
            )
        return Outcome(replace(snapshot, failure_times=recent))
    return Outcome(snapshot)


def _move(
    snapshot: StateSnapshot,
    to: AccountState,
    reason: str,
    at: datetime,
    *,
    failure_type: str | None = None,
    cooling_until: datetime | None = None,
    cool_streak: int | None = None,
    failure_times: tuple[datetime, ...] = (),
) -> Outcome:
    if to is AccountState.ACTIVE:
        streak = (
            0
            if snapshot.state is not AccountState.COOLING or reason != "cooling period over"
            else snapshot.cool_streak
        )
    else:
        streak = snapshot.cool_streak if cool_streak is None else cool_streak
    new = StateSnapshot(
        state=to,
        reason=reason,
        changed_at=at,
        cooling_until=cooling_until if to is AccountState.COOLING else None,
        cool_streak=streak,
        failure_times=failure_times,
    )
    return Outcome(new, Transition(snapshot.state, to, reason, at, failure_type, new.cooling_until))
