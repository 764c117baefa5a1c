"""Rollout autopilot decisions as alerts: each promotion, pause, rollback and promotion waiting
for a person reaches owners and admins (inbox), whatever channels the rules name for its event,
and the rollout's own owner and watchers (their inbox and a mail to their address through the
outbox), in the decision's own transaction (rollout_timeline.on_decision), once per decision.
It also answers the autopilot's budget-alert gate (`budget_alerts_for`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import or_, select

from spectra.alerts import outbox, service
from spectra.alerts import repository as repo
from spectra.alerts.catalogue import BUDGET_EVENTS
from spectra.alerts.models import Alert, AlertDelivery
from spectra.db.session import Session
from spectra.policy import rollout_people
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
    title = _TITLE[event.kind].format(name=rollout.name, cohort=cohort)
    alert = await service.raise_alert(
        session,
        event=name,
        subject_kind="rollout",
        subject_id=str(rollout.id),
        dedupe_key=f"{name}:{event.id}",
        title=title,
        message=event.explanation or title,
        data={"rollout": rollout.name, "cohort": event.cohort, "gates": event.gates},
        time_zone=settings_cache.current.time_zone,
    )
    if alert is not None:
        await _tell_people(session, rollout, alert)


async def _tell_people(session: Session, rollout: Rollout, alert: Alert) -> None:
    """The owner's and watchers' inbox entries and one mail each (the alert is new, so this
    runs once per decision; a person both owner and watcher is told once)."""
    people = await rollout_people.recipients(session, rollout)
    if not people:
        return
    await repo.add_notifications(session, alert.id, [u.id for u in people], alert.created_at)
    body = f"{alert.message}\n\n`spectra rollouts timeline {rollout.name}` shows every step."
    for user in people:
        session.add(
            AlertDelivery(
                alert_id=alert.id,
                kind="email",
                recipient=user.email,
                subject=alert.title[:300],
                body=body,
                body_sealed=False,
                created_at=alert.created_at,
            )
        )
    await session.flush()
    outbox.wake_after_commit(session)


async def budget_alerts_for(
    session: Session,
    member_ids: list[uuid.UUID],
    group_ids: list[uuid.UUID],
    since: datetime,
    until: datetime,
) -> list[str]:
    """The titles of the budget alerts (caps, allowances, key budgets) raised in [since, until]
    about one of these members or groups, oldest first (rollout_autopilot.on_budget_alerts)."""
    about = []
    if member_ids:
        about.append(Alert.member_id.in_(member_ids))
    if group_ids:
        about.append(Alert.group_id.in_(group_ids))
    if not about:
        return []
    stmt = (
        select(Alert.title)
        .where(
            Alert.event.in_(BUDGET_EVENTS),
            Alert.created_at >= since,
            Alert.created_at <= until,
            or_(*about),
        )
        .order_by(Alert.created_at, Alert.id)
    )
    return list((await session.execute(stmt)).scalars())
