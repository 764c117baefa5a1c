"""The demo shows this session's features: a project with a monthly budget that the history's
requests carry, alert rules and the alerts the month's spend raises (group Mobile near its cap),
and a rollout with percentage cohorts on autopilot, with its timeline. Nothing doubles on a
second run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func, select

from spectra.alerts import service as alerts_service
from spectra.alerts.models import Alert
from spectra.audit.actor import local_actor, user_actor
from spectra.budgets import projects
from spectra.db.session import read_scope
from spectra.demo import guardrails
from spectra.demo.history import plan
from spectra.demo.seed import SeedReport, seed
from spectra.demo.upstream import DemoUpstream
from spectra.demo.workspace import DEFAULT_PASSWORD, DOMAIN
from spectra.policy import rollout_timeline
from spectra.policy.models import RolloutEvent
from spectra.runtime import Runtime
from spectra.usage.models import UsageRecord
from spectra.users import service as users_service

pytestmark = pytest.mark.slow
OWNER = "owner@spectra.local"


@pytest_asyncio.fixture
async def upstream() -> AsyncIterator[DemoUpstream]:
    async with DemoUpstream() as up:
        yield up


async def _seed(runtime: Runtime, upstream: DemoUpstream) -> SeedReport:
    return await seed(runtime, upstream_url=upstream.url, days=30, volume=0.06)


async def _inbox(runtime: Runtime, email: str) -> list[dict[str, object]]:
    async with read_scope(runtime.db) as session:
        user = await users_service.find_user_by_email(session, local_actor(), email=email)
        assert user is not None
        who = user_actor(user_id=user.id, email=email, role=user.role, via="console")
        _, items = await alerts_service.inbox(session, who, limit=200)
    return items


async def _snapshot(runtime: Runtime) -> tuple[object, ...]:
    me = local_actor()
    async with read_scope(runtime.db) as session:
        project = await projects.show_project(session, me, name=guardrails.PROJECT)
        rules = (await alerts_service.list_rules(session, me)).items
        alerts = int((await session.execute(select(func.count()).select_from(Alert))).scalar_one())
        events = int(
            (await session.execute(select(func.count()).select_from(RolloutEvent))).scalar_one()
        )
        mobile = await users_service.get_group(session, me, group=guardrails.CAP_GROUP)
    return (
        project.monthly_budget_micros,
        sorted(project.members),
        len(rules),
        alerts,
        events,
        mobile.monthly_cap_micros,
    )


class TestDemoGuardrails:
    async def test_project_rules_alerts_and_autopilot_rollout(
        self, clock: datetime, runtime: Runtime, upstream: DemoUpstream
    ) -> None:
        seeded = await _seed(runtime, upstream)

        me = local_actor()
        async with read_scope(runtime.db) as session:
            project = await projects.show_project(session, me, name=guardrails.PROJECT)
            carried = (
                await session.execute(
                    select(func.count())
                    .select_from(UsageRecord)
                    .where(UsageRecord.project_id == project.id)
                )
            ).scalar_one()
            report = await projects.project_report(session, me, name=guardrails.PROJECT)
            rules = (await alerts_service.list_rules(session, me)).items
            mobile = await users_service.get_group(session, me, group=guardrails.CAP_GROUP)
            view = await rollout_timeline.timeline(session, me, rollout=guardrails.ROLLOUT)
        # The project: a monthly budget, its members' keys, and the history's requests on it.
        assert project.monthly_budget_micros is not None
        assert project.monthly_budget_micros > 0
        assert project.mode == "soft"
        assert sorted(project.members) == sorted(
            f"{h}@{DOMAIN}" for h in guardrails.PROJECT_MEMBERS
        )
        senders = {t.handle for t in plan(seeded.start, days=30, volume=0.06)}
        assert len(project.keys) == len(senders & set(guardrails.PROJECT_MEMBERS)) > 0
        assert carried > 0
        assert report.cost_micros > 0
        # The rules, as seeded.
        assert {(r.event, r.threshold_percent) for r in rules} == {
            (r.event, r.threshold_percent) for r in guardrails.RULES
        }
        # The cap stands near this month's spend: the 50% and 80% alerts, not the 100% one.
        assert mobile.monthly_cap_micros is not None
        owner_inbox = await _inbox(runtime, OWNER)
        cap_titles = sorted(str(i["title"]) for i in owner_inbox if i["event"] == "group_cap")
        assert cap_titles == [
            "Group Mobile reached 50% of its monthly cap",
            "Group Mobile reached 80% of its monthly cap",
        ]
        project_titles = {str(i["title"]) for i in owner_inbox if i["event"] == "project_budget"}
        assert f"Project {guardrails.PROJECT} reached 50% of its monthly budget" in project_titles
        assert not any("100%" in t for t in project_titles)
        # The rules reach beyond owners and admins: Mobile's members see the 80% one, the
        # project's lead sees the project's.
        aisha = {str(i["title"]) for i in await _inbox(runtime, f"aisha@{DOMAIN}")}
        assert "Group Mobile reached 80% of its monthly cap" in aisha
        assert "Group Mobile reached 50% of its monthly cap" not in aisha
        tom = {str(i["event"]) for i in await _inbox(runtime, f"tom@{DOMAIN}")}
        assert "project_budget" in tom
        # The rollout: percentage cohorts, the pilot promoted in the history, autopilot on.
        detail = view["rollout"]
        assert detail.rollout.autopilot is True
        assert [(c.name, c.percent_bp, c.status) for c in detail.cohorts] == [
            ("pilot", 3000, "promoted"),
            ("wave 1", 6000, "pending"),
            ("everyone", 10000, "pending"),
        ]
        assert detail.cohorts[0].promoted_at is not None
        assert detail.cohorts[0].promoted_at < clock
        assert "autopilot_on" in [e["kind"] for e in view["events"]]

    async def test_a_second_run_and_a_detection_pass_add_nothing(
        self, clock: datetime, runtime: Runtime, upstream: DemoUpstream
    ) -> None:
        await _seed(runtime, upstream)
        before = await _snapshot(runtime)

        again = await _seed(runtime, upstream)
        raised = await guardrails.detect_once(runtime)

        assert again.sent == 0
        assert raised == 0
        assert await _snapshot(runtime) == before
        async with read_scope(runtime.db) as session:
            rollouts = await rollout_timeline.timeline(
                session, local_actor(), rollout=guardrails.ROLLOUT
            )
        assert rollouts["rollout"].rollout.autopilot is True

    async def test_the_owner_sees_them_in_the_console(
        self, clock: datetime, runtime: Runtime, app: Any, upstream: DemoUpstream
    ) -> None:
        await _seed(runtime, upstream)

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://spectra.test") as web:
            signed_in = await web.post(
                "/console/login", data={"email": OWNER, "password": DEFAULT_PASSWORD}
            )
            assert signed_in.status_code == 303, signed_in.text
            centre = await web.get("/console/notifications")
            rollout = await web.get(f"/console/rollouts/{quote(guardrails.ROLLOUT)}")
            project = await web.get(f"/console/projects/{guardrails.PROJECT}")

        assert centre.status_code == 200, centre.text
        assert "Group Mobile reached 80% of its monthly cap" in centre.text
        assert f"Project {guardrails.PROJECT} reached 50% of its monthly budget" in centre.text
        assert rollout.status_code == 200, rollout.text
        assert '<dd id="rollout-autopilot">on</dd>' in rollout.text
        assert 'data-kind="autopilot_on"' in rollout.text
        assert project.status_code == 200, project.text
        assert "tom@demo.spectra.local" in project.text
