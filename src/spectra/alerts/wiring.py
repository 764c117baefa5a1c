"""Start-up wiring: the outbox deliverer (kicked after each commit that queues deliveries,
retried by a leased job), the detection sweep (budgets, approvals waiting, keys expiring, pool
accounts, models refused as not served or unpriced, the settlement backlog) and the audit chain's break (`audit.broken`) as an `audit_broken` alert."""

from __future__ import annotations

from typing import Any

from spectra.alerts import (
    budget_detect,
    deliver,
    detect,
    digest,
    episodes,
    handlers,
    rollouts,
    service,
)
from spectra.audit import anchors as audit_anchors
from spectra.db.hub import Hub
from spectra.db.session import session_scope
from spectra.kit.clock import utc_now
from spectra.policy import rollout_autopilot, rollout_timeline
from spectra.workspace.cache import settings_cache

DELIVER_JOB = "alerts.deliver"
DETECT_JOB = "alerts.detect"
DELIVER_SECONDS = 5.0
DETECT_SECONDS = 60.0
FORECAST_JOB = "alerts.forecast"
FORECAST_SECONDS = 600.0


def install(hub: Hub) -> None:
    env_password = hub.settings.smtp_password
    deliverer = deliver.Deliverer(
        db=hub.db,
        webhook_key=hub.keys.webhook_key,
        settings_of=lambda: settings_cache.current,
        fallback_password=env_password.get_secret_value() if env_password else None,
    )
    deliver.install(deliverer)
    handlers.configure(public_base=hub.settings.public_base())

    async def deliver_job() -> None:
        await deliverer.deliver_due()

    async def detect_job() -> None:
        await run_detection(hub)

    async def forecast_job() -> None:
        await run_forecast_alerts(hub)

    stop_listening = rollout_timeline.on_decision(rollouts.rollout_decided)
    stop_budget_gate = rollout_autopilot.on_budget_alerts(rollouts.budget_alerts_for)

    async def stop() -> None:
        stop_listening()
        stop_budget_gate()
        await deliverer.wait_idle()

    async def on_audit(event: str, body: dict[str, Any]) -> None:
        if event != audit_anchors.BROKEN_EVENT:
            return
        problem = str(body.get("problem", ""))
        async with session_scope(hub.db) as session:
            await service.raise_alert(
                session,
                event="audit_broken",
                subject_kind="audit_chain",
                subject_id=str(body.get("event_id")),
                dedupe_key=f"audit_broken:{body.get('event_id')}:{problem[:150]}",
                title="The audit chain failed verification",
                message=f"The audit chain failed verification: {problem} "
                "Run `spectra audit verify` and see docs/operations.md.",
                data={"event_id": str(body.get("event_id")), "problem": problem},
                time_zone=settings_cache.current.time_zone,
            )

    audit_anchors.add_sink("alerts", on_audit)
    hub.on_stop.append(stop)
    hub.jobs.register(DELIVER_JOB, DELIVER_SECONDS, deliver_job)
    hub.jobs.register(DETECT_JOB, DETECT_SECONDS, detect_job)
    hub.jobs.register(FORECAST_JOB, FORECAST_SECONDS, forecast_job)


async def run_detection(hub: Hub) -> int:
    """One pass of every periodic detector, in one transaction."""
    settings = settings_cache.current
    now = utc_now()
    async with session_scope(hub.db) as session:
        raised = await detect.sweep_budgets(session, settings, now)
        raised += await detect.check_waiting(session, settings, now)
        raised += await detect.check_keys_expiring(session, settings, now)
        raised += await detect.check_pool(session, settings, now)
        raised += await episodes.check_refusals(session, settings, now)
        raised += await episodes.check_backlog(session, settings, now)
        budgets = await budget_detect.key_budget_candidates(session, settings, now)
        budgets += await budget_detect.project_budget_candidates(session, settings, now)
        raised += await detect.raise_new(session, budgets, settings.time_zone)
    return raised


async def run_forecast_alerts(hub: Hub) -> int:
    """Runway and digest (they read the forecast, so they run every ten minutes)."""
    async with session_scope(hub.db) as session:
        return await digest.check_forecasts(session, settings_cache.current, utc_now())
