"""A rollout's timeline (gate readings, decisions, who or what made them), switching its
autopilot on and off, approving a large wave, and the hook other features use to hear of each
automatic decision (`on_decision`; the alerts work subscribes there to notify owners)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db.session import AnySession, Session
from spectra.kit.clock import utc_now
from spectra.users.permissions import Permission, require

from . import repository
from .errors import PolicyChangeInvalidError
from .models import CohortStatus, Rollout, RolloutEvent, RolloutStatus
from .rollout_cohorts import cohort_targets
from .rollouts import get_rollout
from .schemas import AutopilotSettings, rate_bp

log = logging.getLogger(__name__)

DECISIONS = ("promote", "pause", "rollback", "approval_needed")
DecisionListener = Callable[[Session, Rollout, RolloutEvent], Awaitable[None]]
_listeners: list[DecisionListener] = []


def on_decision(listener: DecisionListener) -> Callable[[], None]:
    """Call `listener(session, rollout, event)` for each automatic decision (promote, pause,
    rollback, approval needed), inside the decision's transaction, once per decision (the
    event's step key is unique). Returns a function that removes the listener."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


async def has_step(session: AnySession, rollout: Rollout, key: str) -> bool:
    stmt = select(RolloutEvent.id).where(
        RolloutEvent.rollout_id == rollout.id, RolloutEvent.step_key == key
    )
    return (await session.execute(stmt)).first() is not None


async def record(
    session: Session,
    actor: Actor,
    rollout: Rollout,
    kind: str,
    *,
    cohort: str | None = None,
    key: str | None = None,
    outcome: str | None = None,
    explanation: str = "",
    gates: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> RolloutEvent:
    """Add a timeline row (flushed, so a duplicate `key` fails here, before anything else). A
    decision is also an audited action carrying the gate values, and reaches the listeners."""
    event = RolloutEvent(
        rollout_id=rollout.id,
        cohort=cohort,
        kind=kind,
        step_key=key,
        actor=actor.label,
        outcome=outcome,
        explanation=explanation[:2000],
        gates=gates or {},
        at=at or utc_now(),
    )
    session.add(event)
    await session.flush()
    if kind in DECISIONS:
        await audit_service.record(
            session,
            actor,
            f"rollouts.autopilot.{kind}",
            target_type="rollout",
            target_id=rollout.id,
            target_label=f"{rollout.name} / {cohort}" if cohort else rollout.name,
            after={"outcome": outcome, "explanation": explanation},
            cohort=cohort,
            gates=gates or {},
        )
        # Each distinct listener once, however many runtimes of this process installed it.
        for listener in dict.fromkeys(_listeners):
            await listener(session, rollout, event)
    return event


async def set_autopilot(
    session: Session,
    actor: Actor,
    *,
    rollout: str,
    on: bool,
    settings: AutopilotSettings | None = None,
) -> Rollout:
    """Switch a rollout's autopilot on (resuming it when paused) or off; new settings replace the
    old ones. One audited action and a timeline row."""
    require(actor, Permission.POLICY_WRITE)
    detail = await get_rollout(session, actor, rollout=rollout)
    found = detail.rollout
    if settings is not None:
        if settings.end_hour <= settings.start_hour:
            raise PolicyChangeInvalidError("The allowed hours must end after they start.")
        for field in ("error_rate", "refusal_rate"):
            pause = rate_bp(getattr(settings, f"{field}_pause"), f"{field}_pause")
            back = rate_bp(getattr(settings, f"{field}_rollback"), f"{field}_rollback")
            if pause is not None and back is not None and back < pause:
                raise PolicyChangeInvalidError(
                    f"{field}_rollback must be at least {field}_pause (it is the wider bound)."
                )
        found.autopilot_settings = settings.model_dump(mode="json")
    before = {"autopilot": found.autopilot, "status": found.status}
    found.autopilot = on
    if on and found.status == RolloutStatus.PAUSED:
        found.status = RolloutStatus.ACTIVE
    await session.flush()
    current = AutopilotSettings.model_validate(found.autopilot_settings or {})
    await audit_service.record_on(
        session,
        actor,
        "rollouts.autopilot",
        "rollout",
        found,
        before=before,
        after={
            "autopilot": on,
            "status": found.status,
            "settings": current.model_dump(mode="json"),
        },
    )
    await record(session, actor, found, "autopilot_on" if on else "autopilot_off")
    return found


async def approve_next(session: Session, actor: Actor, *, rollout: str) -> RolloutEvent:
    """A person approves the next wave for the autopilot (needed above `approval_above`)."""
    require(actor, Permission.POLICY_WRITE)
    detail = await get_rollout(session, actor, rollout=rollout)
    pending = [c for c in detail.cohorts if c.status != CohortStatus.PROMOTED]
    if not pending:
        raise PolicyChangeInvalidError(f"Every cohort of '{rollout}' is promoted.")
    nxt = pending[0]
    key = approval_key(nxt.id, nxt.rolled_back_at)
    if await has_step(session, detail.rollout, key):
        raise PolicyChangeInvalidError(f"Cohort '{nxt.name}' is already approved.")
    await audit_service.record(
        session,
        actor,
        "rollouts.approve",
        target_type="rollout",
        target_id=detail.rollout.id,
        target_label=f"{detail.rollout.name} / {nxt.name}",
        cohort=nxt.name,
    )
    return await record(
        session, actor, detail.rollout, "approved", cohort=nxt.name, key=key, outcome="approved"
    )


def approval_key(cohort_id: object, rolled_back_at: datetime | None) -> str:
    return f"approved:{cohort_id}:{rolled_back_at.isoformat() if rolled_back_at else '-'}"


async def timeline(
    session: AnySession, actor: Actor, *, rollout: str, limit: int = 500
) -> dict[str, Any]:
    """The rollout, its waves and its timeline rows, oldest first."""
    detail = await get_rollout(session, actor, rollout=rollout)
    stmt = (
        select(RolloutEvent)
        .where(RolloutEvent.rollout_id == detail.rollout.id)
        .order_by(RolloutEvent.at, RolloutEvent.id)
        .limit(limit)
    )
    rows = (await session.execute(stmt)).scalars().all()
    return {"rollout": detail, "events": [event_view(e) for e in rows]}


def event_view(event: RolloutEvent) -> dict[str, Any]:
    return {
        "at": event.at.isoformat(),
        "cohort": event.cohort,
        "kind": event.kind,
        "actor": event.actor,
        "outcome": event.outcome,
        "explanation": event.explanation,
        "gates": event.gates,
    }


async def member_waves(session: AnySession, user_id: uuid.UUID) -> list[dict[str, Any]]:
    """For a member's portal: each promoted wave that reached them ("you are in wave 2 of the
    Opus rollout"), with its models and when. Reads the member's own standing only."""
    out = []
    rollouts = (await session.execute(select(Rollout).order_by(Rollout.created_at))).scalars()
    for rollout in list(rollouts):
        for cohort in await repository.cohorts_of(session, rollout.id):
            if cohort.status != CohortStatus.PROMOTED:
                continue
            _, in_groups, named = await cohort_targets(session, cohort)
            if any(u.id == user_id for u in in_groups + named):
                out.append(
                    {
                        "rollout": rollout.name,
                        "wave": cohort.position + 1,
                        "cohort": cohort.name,
                        "models": list(cohort.models),
                        "package": cohort.package,
                        "since": cohort.promoted_at,
                        "why": f"you are in wave {cohort.position + 1} ({cohort.name}) of the "
                        f"{rollout.name} rollout",
                    }
                )
                break
    return out
