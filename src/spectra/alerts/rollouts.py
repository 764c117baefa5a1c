"""Rollout autopilot decisions as alerts: each promotion, pause, rollback and promotion waiting
for a person reaches owners and admins (inbox) and whatever channels the rules name for its
event, in the decision's own transaction (rollout_timeline.on_decision), once per decision."""

from __future__ import annotations

from spectra.alerts import service
from spectra.db.session import Session
from spectra.policy.models import Rollout, RolloutEvent
from spectra.workspace.cache import settings_cache

EVENT_OF = {
    "promote": "rollout_promoted",
    "pause": "rollout_paused",
    "rollback": "rollout_rolled_back",
    "approval_needed": "rollout_approval_needed",
}
_TITLE = {
    "promote": "{name}: {cohort} promoted by the autopilot",
    "pause": "{name} paused by the autopilot",
    "rollback": "{name}: {cohort} rolled back by the autopilot",
    "approval_needed": "{name}: {cohort} waits for an approval",
}


async def rollout_decided(session: Session, rollout: Rollout, event: RolloutEvent) -> None:
    name = EVENT_OF.get(event.kind)
    if name is None:
        return
    cohort = event.cohort or "the next wave"
    await service.raise_alert(
        session,
        event=name,
        subject_kind="rollout",
        subject_id=str(rollout.id),
        dedupe_key=f"{name}:{event.id}",
        title=_TITLE[event.kind].format(name=rollout.name, cohort=cohort),
        message=event.explanation or _TITLE[event.kind].format(name=rollout.name, cohort=cohort),
        data={"rollout": rollout.name, "cohort": event.cohort, "gates": event.gates},
        time_zone=settings_cache.current.time_zone,
    )
