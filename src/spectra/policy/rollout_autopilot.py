"""The rollout autopilot: one step per rollout, run by the `rollouts.autopilot` job.

For a rollout with its autopilot on, the current wave (the last promoted cohort) is measured
against the baseline (every usable member not in a promoted cohort) over the same period,
from its promotion to now (rollout_baseline):
- past a `*_rollback` bound: the wave is rolled back (access and packages restored exactly) and
  the rollout pauses;
- past a `*_pause` bound, or on a budget alert raised for the wave's members or groups since
  its promotion (`budget_alerts_pause`): the rollout pauses (a person resumes it with
  `autopilot on`);
- held for `window_hours` since the promotion: the next cohort is promoted by the system actor
  at the next allowed time (rollout_schedule), after a person's approval when it is larger than
  `approval_above`, with a dry-run recorded first.
Each decision is a timeline row with a step key unique per rollout, written before the change
in the same transaction: two processes running the step at once make it happen once (the
loser's transaction fails on the key and changes nothing). Gate readings are kept once an hour.
The first cohort (the pilot) is promoted by a person; the autopilot takes it from there.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from spectra.audit.actor import SYSTEM
from spectra.db.session import Database, Session, read_scope, session_scope
from spectra.errors import SpectraError
from spectra.kit.clock import utc_now
from spectra.workspace import service as workspace_service

from . import drafts, rollout_baseline, rollout_queries
from . import rollout_timeline as timeline
from .models import CohortStatus, Rollout, RolloutCohort, RolloutEvent, RolloutStatus
from .rollout_baseline import Bound, Facts, Verdict
from .rollout_cohorts import USABLE, cohort_targets
from .rollout_schedule import Schedule
from .rollouts import get_rollout, rollback
from .schemas import AutopilotSettings, rate_bp

log = logging.getLogger(__name__)

JOB_NAME = "rollouts.autopilot"
INTERVAL_SECONDS = 60.0

BudgetAlertSource = Callable[
    [Session, list[uuid.UUID], list[uuid.UUID], datetime, datetime], Awaitable[list[str]]
]
"""(session, member ids, group ids, since, until) -> the titles of the budget alerts raised for
those members or groups in [since, until], oldest first."""
_budget_sources: list[BudgetAlertSource] = []


def on_budget_alerts(source: BudgetAlertSource) -> Callable[[], None]:
    """Install what reads budget alerts for the budget-alert gate (the alerts domain sits above
    policy, so it registers at start-up). Returns a function that removes it."""
    _budget_sources.append(source)
    return lambda: _budget_sources.remove(source)


def bounds(settings: AutopilotSettings) -> list[Bound]:
    out = []
    for gate, pause, back in (
        ("error_rate", settings.error_rate_pause, settings.error_rate_rollback),
        ("refusal_rate", settings.refusal_rate_pause, settings.refusal_rate_rollback),
    ):
        if pause is not None:
            out.append(Bound(gate, rate_bp(pause, gate) or 0, rate_bp(back, gate)))
    if settings.spend_per_member_pause is not None:
        out.append(
            Bound(
                "spend_per_member",
                settings.spend_per_member_pause,
                settings.spend_per_member_rollback,
            )
        )
    if settings.p95_latency_pause_ms is not None:
        out.append(
            Bound("p95_latency", settings.p95_latency_pause_ms, settings.p95_latency_rollback_ms)
        )
    return out


async def facts(
    session: Session, user_ids: list[uuid.UUID], since: datetime, until: datetime, latency: bool
) -> Facts:
    totals = await rollout_queries.usage_counts(session, user_ids, since, until)
    p95 = None
    if latency:
        p95 = rollout_baseline.p95(
            await rollout_queries.usage_latencies(session, user_ids, since, until)
        )
    return Facts(
        requests=totals["requests"],
        errors=totals["errors"],
        refused=totals["refused"],
        active=totals["active"],
        spend_micros=totals["spend"],
        p95_latency_ms=p95,
    )


async def evaluate(
    session: Session,
    cohorts: list[RolloutCohort],
    current: RolloutCohort,
    settings: AutopilotSettings,
    now: datetime,
) -> Verdict:
    """The current wave against the members not in any promoted cohort, since its promotion."""
    assert current.promoted_at is not None
    group_ids, in_groups, named = await cohort_targets(session, current)
    wave = [u.id for u in in_groups + named]
    inside: set[uuid.UUID] = set()
    for cohort in cohorts:
        if cohort.status == CohortStatus.PROMOTED:
            _, g, n = await cohort_targets(session, cohort)
            inside.update(u.id for u in g + n)
    baseline = [
        u for u in await rollout_queries.usable_user_ids(session, USABLE) if u not in inside
    ]
    gates = bounds(settings)
    latency = any(b.gate == "p95_latency" for b in gates)
    mine = await facts(session, wave, current.promoted_at, now, latency)
    theirs = await facts(session, baseline, current.promoted_at, now, latency)
    found = rollout_baseline.verdict(gates, mine, theirs, min_requests=settings.min_requests)
    if not settings.budget_alerts_pause:
        return found
    titles: list[str] = []
    # Each distinct reader once: a process that builds several runtimes (the in-process CLI,
    # tests) installs the same reader more than once, and an alert must not count twice.
    for source in dict.fromkeys(_budget_sources):
        titles += await source(session, wave, group_ids, current.promoted_at, now)
    return rollout_baseline.with_result(
        found, rollout_baseline.budget_alert_result(titles, mine.requests)
    )


def _epoch(cohort: RolloutCohort) -> str:
    """Which promotion of the cohort (a cohort promoted again after a rollback is a new one)."""
    return cohort.promoted_at.isoformat() if cohort.promoted_at else "-"


async def step(session: Session, rollout_id: uuid.UUID, now: datetime) -> RolloutEvent | None:
    """One autopilot step for one rollout; the decision made (None when nothing happened)."""
    rollout = await session.get(Rollout, rollout_id)
    if rollout is None or not rollout.autopilot or rollout.status == RolloutStatus.COMPLETED:
        return None
    detail = await get_rollout(session, SYSTEM, rollout=rollout.name)
    settings = AutopilotSettings.model_validate(rollout.autopilot_settings or {})
    promoted = [c for c in detail.cohorts if c.status == CohortStatus.PROMOTED]
    if not promoted:
        return None
    current = promoted[-1]
    verdict = await evaluate(session, detail.cohorts, current, settings, now)
    reading = verdict.as_json()
    hour = now.replace(minute=0, second=0, microsecond=0).isoformat()
    gates_key = f"gates:{current.id}:{_epoch(current)}:{hour}"
    if not await timeline.has_step(session, rollout, gates_key):
        await timeline.record(
            session,
            SYSTEM,
            rollout,
            "gates",
            cohort=current.name,
            key=gates_key,
            outcome=verdict.outcome,
            explanation=verdict.explanation,
            gates=reading,
            at=now,
        )
    if verdict.outcome == "rollback":
        key = f"rollback:{current.id}:{_epoch(current)}"
        event = await timeline.record(
            session,
            SYSTEM,
            rollout,
            "rollback",
            cohort=current.name,
            key=key,
            outcome="rollback",
            explanation=verdict.explanation,
            gates=reading,
            at=now,
        )
        await rollback(session, SYSTEM, rollout=rollout.name, cohort=current.name)
        rollout.status = RolloutStatus.PAUSED
        await session.flush()
        return event
    if verdict.outcome == "breached":
        if rollout.status == RolloutStatus.PAUSED:
            return None
        rollout.status = RolloutStatus.PAUSED
        return await timeline.record(
            session,
            SYSTEM,
            rollout,
            "pause",
            cohort=current.name,
            key=f"pause:{current.id}:{_epoch(current)}",
            outcome="breached",
            explanation=verdict.explanation,
            gates=reading,
            at=now,
        )
    if rollout.status == RolloutStatus.PAUSED or verdict.outcome != "held":
        return None
    assert current.promoted_at is not None
    if now - current.promoted_at < timedelta(hours=settings.window_hours):
        return None
    pending = [c for c in detail.cohorts if c.position > current.position]
    if not pending:
        return None
    nxt = pending[0]
    return await _promote_next(session, rollout, current, nxt, settings, verdict, now)


async def _promote_next(
    session: Session,
    rollout: Rollout,
    current: RolloutCohort,
    nxt: RolloutCohort,
    settings: AutopilotSettings,
    verdict: Verdict,
    now: datetime,
) -> RolloutEvent | None:
    epoch = nxt.rolled_back_at.isoformat() if nxt.rolled_back_at else "-"
    workspace = await workspace_service.get_settings(session)
    schedule = Schedule(
        time_zone=workspace.time_zone,
        start_hour=settings.start_hour,
        end_hour=settings.end_hour,
        days=tuple(settings.days),
        freezes=tuple((f.start, f.end) for f in settings.freezes),
    )
    when = schedule.next_allowed(now)
    if when != now:
        key = f"scheduled:{nxt.id}:{epoch}:{when.isoformat() if when else 'never'}"
        if not await timeline.has_step(session, rollout, key):
            await timeline.record(
                session,
                SYSTEM,
                rollout,
                "scheduled",
                cohort=nxt.name,
                key=key,
                explanation=f"gates held; next allowed time {when.isoformat() if when else 'none'}",
                gates=verdict.as_json(),
                at=now,
            )
        return None
    if settings.approval_above is not None:
        _, in_groups, named = await cohort_targets(session, nxt)
        size = len(in_groups) + len(named)
        approved = timeline.approval_key(nxt.id, nxt.rolled_back_at)
        if size > settings.approval_above and not await timeline.has_step(
            session, rollout, approved
        ):
            key = f"approval:{nxt.id}:{epoch}"
            if await timeline.has_step(session, rollout, key):
                return None
            return await timeline.record(
                session,
                SYSTEM,
                rollout,
                "approval_needed",
                cohort=nxt.name,
                key=key,
                outcome="waiting",
                explanation=f"{size} members, above {settings.approval_above}: "
                "`spectra rollouts approve` lets the autopilot promote it",
                gates=verdict.as_json(),
                at=now,
            )
    event = await timeline.record(
        session,
        SYSTEM,
        rollout,
        "promote",
        cohort=nxt.name,
        key=f"promote:{nxt.id}:{epoch}",
        outcome="held",
        explanation=f"'{current.name}' held: {verdict.explanation}",
        gates=verdict.as_json(),
        at=now,
    )
    draft = await drafts.create_draft(session, SYSTEM, rollout=rollout.name, cohort=nxt.name)
    await drafts.dry_run(session, SYSTEM, draft_id=draft.id)
    await drafts.promote_cohort(session, SYSTEM, rollout=rollout.name, cohort=nxt.name)
    return event


async def run_autopilot(db: Database, *, now: datetime | None = None) -> list[RolloutEvent]:
    """One step for every rollout on autopilot, each in its own transaction; the decisions."""
    moment = now or utc_now()
    async with read_scope(db) as session:
        ids = await rollout_queries.autopilot_rollout_ids(session)
    made = []
    for rollout_id in ids:
        try:
            async with session_scope(db) as session:
                event = await step(session, rollout_id, moment)
        except IntegrityError:
            log.info("rollout %s: another process took this step", rollout_id)
            continue
        except SpectraError as exc:
            log.warning("rollout %s: autopilot step refused: %s", rollout_id, exc)
            continue
        if event is not None:
            made.append(event)
    return made
