"""The demo's budgets, alerts and rollout (issues 20 and 24), through the services the console, the
API and the CLI use: project `mobile-app` (its members' `laptop` keys belong to it, so the
history's requests carry it), alert rules, a monthly cap on group Mobile, and rollout "Opus for
Mobile" with percentage cohorts on autopilot.

The cap and the project budget are sized once, after the history, from this month's spend (the
month's share of the history depends on the day the demo runs and on its volume): the cap so the
group stands at about 85% of it and the project at about 60% of its budget. One detection pass
then raises the 50% and 80% alerts, which owners and admins (and the rules' recipients) find in
the notification centre. Every step is idempotent; a later run leaves a cap, budget, rule or
rollout the newcomer changed as it is.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from spectra.alerts import service as alerts_service
from spectra.alerts import wiring as alerts_wiring
from spectra.alerts.schemas import RuleCreate
from spectra.budgets import projects
from spectra.budgets.errors import ProjectExistsError, ProjectNotFoundError
from spectra.db.session import Session, session_scope
from spectra.kit.clock import utc_now
from spectra.policy import rollout_timeline
from spectra.policy import rollouts as rollouts_service
from spectra.policy.counters import month_start
from spectra.policy.errors import RolloutNotFoundError
from spectra.policy.repository import spend_since
from spectra.policy.schemas import AutopilotSettings, CohortCreate, RolloutCreate
from spectra.runtime import Runtime
from spectra.users import service as users_service
from spectra.workspace.cache import settings_cache

from .workspace import DOMAIN, actor

PROJECT = "mobile-app"
PROJECT_MEMBERS = ("tom", "aisha", "diego", "yuki")
"""Their `laptop` keys belong to the project (Noah and Emma's requests stay outside it)."""
CAP_GROUP = "Mobile"
CAP_SHARE = 85
"""Percent of the group's cap this month's history uses once the cap is set."""
PROJECT_SHARE = 60
ROLLOUT = "Opus for Mobile"
RULES = (
    RuleCreate(event="group_cap", threshold_percent=80, group=CAP_GROUP),
    RuleCreate(event="project_budget", user=f"tom@{DOMAIN}"),
    RuleCreate(event="rollout_paused", role="admin"),
    RuleCreate(event="rollout_rolled_back", role="admin"),
    RuleCreate(event="rollout_approval_needed", role="admin"),
)
"""Owners and admins get every alert in their inbox anyway; the rules add the group's members
(its cap at 80%), the project's lead (its budget) and the admin role (rollout decisions)."""
_CENT = 10_000


async def ensure_project(session: Session) -> None:
    """Project `mobile-app` (soft mode: over budget it alerts, it never refuses) and its members;
    its budget is set after the history (see `size_budgets`)."""
    me = actor()
    try:
        await projects.get_project(session, me, name=PROJECT)
    except ProjectNotFoundError:
        try:
            await projects.create_project(session, me, name=PROJECT, mode="soft")
        except ProjectExistsError:
            return  # the newcomer archived it: their demo, their call
        for handle in PROJECT_MEMBERS:
            await projects.add_member(session, me, name=PROJECT, email=f"{handle}@{DOMAIN}")


async def attribute_key(session: Session, handle: str, key_id: uuid.UUID) -> None:
    """A project member's (new or rotated) `laptop` key belongs to the project."""
    if handle not in PROJECT_MEMBERS:
        return
    try:
        await projects.add_key(session, actor(), name=PROJECT, key_id=key_id)
    except ProjectNotFoundError:
        return  # the newcomer removed it: their demo, their call


async def ensure_rules(session: Session) -> None:
    me = actor()
    have = {
        (r.event, r.threshold_percent, r.role, r.group_id, r.user_id)
        for r in (await alerts_service.list_rules(session, me)).items
    }
    for rule in RULES:
        group = await users_service.get_group(session, me, group=rule.group) if rule.group else None
        user = (
            await users_service.find_user_by_email(session, me, email=rule.user)
            if rule.user
            else None
        )
        if rule.user and user is None:
            continue
        key = (
            rule.event,
            rule.threshold_percent,
            rule.role,
            group.id if group else None,
            user.id if user else None,
        )
        if key not in have:
            await alerts_service.add_rule(session, me, data=rule)


def _rollout_spec() -> RolloutCreate:
    # Tom stays out: he keeps asking for Opus on Starter, and the scenario wants him refused.
    tom = [f"tom@{DOMAIN}"]
    return RolloutCreate(
        name=ROLLOUT,
        goal="Give Mobile Opus for the crash triage, a wave at a time, watched by the autopilot.",
        cohorts=[
            CohortCreate(
                name=name,
                groups=[CAP_GROUP],
                percent=Decimal(percent),
                exclude_users=tom,
                models=["claude-opus-4-1"],
            )
            for name, percent in (("pilot", 30), ("wave 1", 60), ("everyone", 100))
        ],
        min_days=1,
    )


async def ensure_rollout(session: Session) -> None:
    """The rollout, its pilot promoted and the autopilot on (run as a history milestone, so the
    pilot has days of traffic behind it and the timeline its dates)."""
    me = actor()
    try:
        await rollouts_service.get_rollout(session, me, rollout=ROLLOUT)
        return
    except RolloutNotFoundError:
        pass
    await rollouts_service.create_rollout(session, me, data=_rollout_spec())
    await rollouts_service.promote(
        session, me, rollout=ROLLOUT, cohort="pilot", confirmed_without_dry_run=True
    )
    # Wave 1 (a few members) goes on its own once its gates hold; "everyone" waits for a person.
    settings = AutopilotSettings(window_hours=48, min_requests=20, approval_above=3)
    await rollout_timeline.set_autopilot(session, me, rollout=ROLLOUT, on=True, settings=settings)


def _sized(spent: int, share: int) -> int:
    """The limit that `spent` is about `share`% of, rounded up to the cent (integer math)."""
    exact = -(-spent * 100 // share)
    return -(-exact // _CENT) * _CENT


async def size_budgets(runtime: Runtime) -> None:
    """Set the Mobile cap and the project budget from this month's spend, unless already set.
    Without spend this month yet (a demo started on the 1st), both wait for a later run: a cap
    sized from nothing would refuse the group's first request."""
    me = actor()
    settings = settings_cache.current
    since = month_start(utc_now(), settings.time_zone)
    async with session_scope(runtime.db) as session:
        group = await users_service.get_group(session, me, group=CAP_GROUP)
        by_group, _ = await spend_since(session, since, group_ids=[group.id])
        spent = by_group.get(group.id, 0)
        if group.monthly_cap_micros is None and spent > 0:
            cap = _sized(spent, CAP_SHARE)
            await users_service.update_group(session, me, group=group.id, monthly_cap_micros=cap)
        try:
            project = await projects.get_project(session, me, name=PROJECT)
        except ProjectNotFoundError:
            project = None
        if project is not None and project.monthly_budget_micros is None:
            report = await projects.project_report(session, me, name=PROJECT, since=since)
            if report.cost_micros > 0:
                budget = _sized(report.cost_micros, PROJECT_SHARE)
                await projects.set_project_budget(
                    session, me, name=PROJECT, fields={"budget"}, budget_micros=budget
                )
    await runtime.feed.poll_once()


async def detect_once(runtime: Runtime) -> int:
    """One detection pass (the serving process runs it every minute): the thresholds the month's
    spend reached become alerts now, not a minute after the demo opens."""
    return await alerts_wiring.run_detection(runtime)
