"""/api/rollouts: staged rollouts (create, list, show), promote and roll back cohorts, and the
per-cohort metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from spectra.api.deps import ActorDep, ReadSessionDep, SessionDep
from spectra.audit.actor import Actor
from spectra.db.session import AnySession
from spectra.kit.pagination import ListResource
from spectra.policy import drafts as drafts_service
from spectra.policy import rollout_people, rollout_timeline
from spectra.policy import rollouts as rollouts_service
from spectra.policy.reads import (
    CohortRead,
    RolloutDetailRead,
    RolloutMetricsRead,
    RolloutPeopleRead,
    RolloutRead,
    RolloutTimelineRead,
    TimelineEventRead,
)
from spectra.policy.schemas import AutopilotSettings, RolloutCreate

router = APIRouter(prefix="/rollouts", tags=["rollouts"])


class PromoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cohort: str | None = None
    """The cohort's name; the next one by default."""
    confirm_without_dry_run: bool = False


class RollbackCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cohort: str | None = None
    """The cohort's name; the last promoted one by default."""


@router.post("", status_code=201)
async def create_rollout(
    body: RolloutCreate, session: SessionDep, actor: ActorDep
) -> RolloutDetailRead:
    detail = await rollouts_service.create_rollout(session, actor, data=body)
    return RolloutDetailRead.model_validate(rollouts_service.detail_view(detail))


@router.get("")
async def list_rollouts(
    session: ReadSessionDep, actor: ActorDep, limit: int | None = None, cursor: str | None = None
) -> ListResource[RolloutRead]:
    page = await rollouts_service.list_rollouts(session, actor, limit=limit, cursor=cursor)
    return ListResource[RolloutRead].model_validate(
        {
            "items": [rollouts_service.rollout_view(r) for r in page.items],
            "next_cursor": page.next_cursor,
        }
    )


@router.get("/{rollout}")
async def get_rollout(rollout: str, session: ReadSessionDep, actor: ActorDep) -> RolloutDetailRead:
    detail = await rollouts_service.get_rollout(session, actor, rollout=rollout)
    return RolloutDetailRead.model_validate(rollouts_service.detail_view(detail))


@router.post("/{rollout}/promote")
async def promote(
    rollout: str, session: SessionDep, actor: ActorDep, body: PromoteCreate | None = None
) -> CohortRead:
    """Promote the cohort (its latest dry-run draft is published; without one, 409
    `dry_run_required` unless `confirm_without_dry_run`)."""
    body = body or PromoteCreate()
    cohort = await drafts_service.promote_cohort(
        session,
        actor,
        rollout=rollout,
        cohort=body.cohort,
        confirm_without_dry_run=body.confirm_without_dry_run,
    )
    return CohortRead.model_validate(rollouts_service.cohort_view(cohort))


@router.post("/{rollout}/rollback")
async def rollback(
    rollout: str, session: SessionDep, actor: ActorDep, body: RollbackCreate | None = None
) -> CohortRead:
    cohort = await rollouts_service.rollback(
        session, actor, rollout=rollout, cohort=(body or RollbackCreate()).cohort
    )
    return CohortRead.model_validate(rollouts_service.cohort_view(cohort))


@router.get("/{rollout}/metrics")
async def metrics(
    rollout: str,
    session: ReadSessionDep,
    actor: ActorDep,
    days: Annotated[int, Query(ge=1, le=90)] = 7,
) -> RolloutMetricsRead:
    return RolloutMetricsRead.model_validate(
        await rollouts_service.rollout_metrics(session, actor, rollout=rollout, days=days)
    )


class AutopilotChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on: bool
    settings: AutopilotSettings | None = None
    """Replaces the stored settings; left out, they stay as they are."""


@router.put("/{rollout}/autopilot")
async def set_autopilot(
    rollout: str, body: AutopilotChange, session: SessionDep, actor: ActorDep
) -> RolloutRead:
    """Switch the rollout's autopilot on (resuming it when paused) or off."""
    found = await rollout_timeline.set_autopilot(
        session, actor, rollout=rollout, on=body.on, settings=body.settings
    )
    return RolloutRead.model_validate(rollouts_service.rollout_view(found))


@router.post("/{rollout}/approve")
async def approve(rollout: str, session: SessionDep, actor: ActorDep) -> TimelineEventRead:
    """Approve the next wave for the autopilot (needed above its `approval_above` size)."""
    event = await rollout_timeline.approve_next(session, actor, rollout=rollout)
    return TimelineEventRead.model_validate(rollout_timeline.event_view(event))


@router.get("/{rollout}/timeline")
async def timeline(rollout: str, session: ReadSessionDep, actor: ActorDep) -> RolloutTimelineRead:
    """Waves, gate readings over time and each decision with who or what made it."""
    data = await rollout_timeline.timeline(session, actor, rollout=rollout)
    return RolloutTimelineRead.model_validate(
        {"rollout": rollouts_service.detail_view(data["rollout"]), "events": data["events"]}
    )


class OwnerChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str | None
    """The owner's email (or id); null clears it."""


class WatcherCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str
    """The watcher's email (or id)."""


async def _people(session: AnySession, actor: Actor, rollout: str) -> RolloutPeopleRead:
    return RolloutPeopleRead.model_validate(
        await rollout_people.people(session, actor, rollout=rollout)
    )


@router.get("/{rollout}/people")
async def people(rollout: str, session: ReadSessionDep, actor: ActorDep) -> RolloutPeopleRead:
    """The rollout's owner and watchers: they hear of each automatic decision."""
    return await _people(session, actor, rollout)


@router.put("/{rollout}/owner")
async def set_owner(
    rollout: str, body: OwnerChange, session: SessionDep, actor: ActorDep
) -> RolloutPeopleRead:
    await rollout_people.set_owner(session, actor, rollout=rollout, user=body.user)
    return await _people(session, actor, rollout)


@router.post("/{rollout}/watchers")
async def add_watcher(
    rollout: str, body: WatcherCreate, session: SessionDep, actor: ActorDep
) -> RolloutPeopleRead:
    """Add a watcher (adding one who watches already changes nothing)."""
    await rollout_people.add_watcher(session, actor, rollout=rollout, user=body.user)
    return await _people(session, actor, rollout)


@router.delete("/{rollout}/watchers/{user}")
async def remove_watcher(
    rollout: str, user: str, session: SessionDep, actor: ActorDep
) -> RolloutPeopleRead:
    await rollout_people.remove_watcher(session, actor, rollout=rollout, user=user)
    return await _people(session, actor, rollout)
