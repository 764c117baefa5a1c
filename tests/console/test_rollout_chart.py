"""A rollout's console page: gate values over time as an inline SVG chart (title, desc, a table
fallback) drawn from the timeline the autopilot really recorded, the fake clock moving it; the
owner and watchers set from the page reach the rollout."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from tests.console.factories import make_usage
from tests.factories import make_group, make_user

from spectra.audit.actor import local_actor
from spectra.db.session import session_scope
from spectra.kit import clock as clock_module
from spectra.policy import drafts as drafts_service
from spectra.policy import rollout_autopilot, rollout_timeline
from spectra.policy import rollouts as rollouts_service
from spectra.policy.schemas import AutopilotSettings, RolloutCreate
from spectra.runtime import Runtime


async def _usage(runtime: Runtime, user_id: uuid.UUID, ok: int, errors: int) -> None:
    async with session_scope(runtime.db) as session:
        for status in ["ok"] * ok + ["error"] * errors:
            await make_usage(session, user_id=user_id, status=status)


async def _autopilot_rollout(runtime: Runtime) -> tuple[uuid.UUID, uuid.UUID]:
    """'opus' with wave-1 (Platform) promoted and its autopilot on: (wave member, other)."""
    actor = local_actor()
    async with session_scope(runtime.db) as session:
        platform = await make_group(session, name="Platform")
        sales = await make_group(session, name="Sales")
        wave = await make_user(session, email="wave@example.com", group=platform)
        other = await make_user(session, email="other@example.com", group=sales)
        data = RolloutCreate.model_validate(
            {
                "name": "opus",
                "cohorts": [
                    {"name": "wave-1", "groups": ["Platform"], "models": ["claude-opus-*"]},
                    {"name": "wave-2", "groups": ["Sales"], "models": ["claude-opus-*"]},
                ],
            }
        )
        await rollouts_service.create_rollout(session, actor, data=data)
        await drafts_service.promote_cohort(
            session, actor, rollout="opus", cohort="wave-1", confirm_without_dry_run=True
        )
        settings = AutopilotSettings.model_validate(
            {
                "window_hours": 100,
                "min_requests": 1,
                "error_rate_pause": "30",
                "error_rate_rollback": "80",
                "refusal_rate_pause": None,
            }
        )
        await rollout_timeline.set_autopilot(
            session, actor, rollout="opus", on=True, settings=settings
        )
    return wave.id, other.id


async def test_the_timeline_chart_draws_the_gate_readings_the_autopilot_recorded(
    browser: Any, runtime: Runtime, clock: datetime
) -> None:
    wave, other = await _autopilot_rollout(runtime)
    await _usage(runtime, wave, ok=4, errors=1)
    await _usage(runtime, other, ok=5, errors=0)
    clock_module.advance(timedelta(minutes=1))
    assert await rollout_autopilot.run_autopilot(runtime.db) == []  # 20 % vs 0 %: held
    clock_module.advance(timedelta(hours=1))
    await _usage(runtime, wave, ok=0, errors=5)
    clock_module.advance(timedelta(minutes=1))
    made = await rollout_autopilot.run_autopilot(runtime.db)  # 60 % vs 0 %: paused
    assert [e.kind for e in made] == ["pause"]

    b = await browser(role="admin")
    page = await b.get("/console/rollouts/opus")
    assert page.status_code == 200, page.text
    html = page.text
    assert html.count('<figure class="gate-chart"') == 1
    assert 'role="img" aria-labelledby="chart-error_rate-title chart-error_rate-desc"' in html
    assert '<title id="chart-error_rate-title">opus: error rate, wave vs baseline</title>' in html
    assert "at 2 readings from" in html
    assert "the highest is 60.00%" in html
    wave_line = re.search(r'class="series-wave" points="([^"]+)"', html)
    base_line = re.search(r'class="series-baseline" points="([^"]+)"', html)
    assert wave_line is not None
    assert base_line is not None
    points = [tuple(map(float, p.split(","))) for p in wave_line.group(1).split()]
    # two readings, left to right; 60 % is the top of the chart, 20 % a third of the way up
    assert len(points) == 2
    assert points[0][0] < points[1][0]
    assert [y for _, y in points] == [92.0, 12.0]
    assert {float(p.split(",")[1]) for p in base_line.group(1).split()} == {132.0}
    assert 'class="marker marker-pause"' in html
    table = html[html.index('<table class="gate-readings"') :]
    table = table[: table.index("</table>")]
    rows = re.findall(r'<td class="num">([^<]+)</td><td class="num">([^<]+)</td>', table)
    assert rows == [("20.00%", "0.00%"), ("60.00%", "0.00%")]


async def test_a_rollout_without_readings_has_no_chart(browser: Any, runtime: Runtime) -> None:
    await _autopilot_rollout(runtime)
    b = await browser(role="admin")
    page = await b.get("/console/rollouts/opus")
    assert page.status_code == 200
    assert "gate-chart" not in page.text


async def test_owner_and_watchers_are_set_from_the_page(browser: Any, runtime: Runtime) -> None:
    await _autopilot_rollout(runtime)
    b = await browser(role="admin")
    done = await b.post_form("/console/rollouts/opus/owner", {"user": "wave@example.com"})
    assert done.status_code == 303, done.text
    done = await b.post_form(
        "/console/rollouts/opus/watchers", {"user": "other@example.com", "action": "add"}
    )
    assert done.status_code == 303, done.text
    page = (await b.get("/console/rollouts/opus")).text
    assert '<dd id="rollout-owner">wave@example.com</dd>' in page
    assert '<dd id="rollout-watchers">other@example.com</dd>' in page
    assert 'data-watcher="other@example.com"' in page
    done = await b.post_form(
        "/console/rollouts/opus/watchers", {"user": "other@example.com", "action": "remove"}
    )
    assert done.status_code == 303
    page = (await b.get("/console/rollouts/opus")).text
    assert '<dd id="rollout-watchers">—</dd>' in page
    done = await b.post_form("/console/rollouts/opus/owner", {"user": ""})
    page = (await b.get("/console/rollouts/opus")).text
    assert '<dd id="rollout-owner">—</dd>' in page
