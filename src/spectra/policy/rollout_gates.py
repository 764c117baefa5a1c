"""A rollout's gates and health: a cohort is promoted in order, after the previous one has
waited its days and stayed under the error and refusal rates, measured from usage records."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from spectra.db.session import AnySession
from spectra.kit.clock import utc_now
from spectra.kit.money import format_amount

from . import rollout_queries
from .errors import CohortOrderError, RolloutGateError
from .models import CohortStatus, RolloutCohort
from .rollout_cohorts import cohort_targets
from .rollout_views import RolloutDetail


async def check_gates(
    session: AnySession, detail: RolloutDetail, cohort: RolloutCohort
) -> dict[str, Any]:
    """Refuse a promotion out of order or before its gates open; the gate facts when open."""
    earlier = [c for c in detail.cohorts if c.position < cohort.position]
    if cohort.status == CohortStatus.PROMOTED:
        raise CohortOrderError(f"Cohort '{cohort.name}' is already promoted.", cohort=cohort.name)
    waiting = [c.name for c in earlier if c.status != CohortStatus.PROMOTED]
    if waiting:
        raise CohortOrderError(
            f"Promote {', '.join(waiting)} before '{cohort.name}'; cohorts go in order.",
            cohort=cohort.name,
        )
    facts: dict[str, Any] = {}
    if not earlier:
        return facts
    previous = earlier[-1]
    assert previous.promoted_at is not None
    rollout = detail.rollout
    now = utc_now()
    days = (now - previous.promoted_at) / timedelta(days=1)
    facts["days_since_previous"] = round(days, 2)
    if rollout.min_days is not None and days < rollout.min_days:
        raise RolloutGateError(
            f"Cohort '{previous.name}' was promoted {days:.1f} days ago; the rollout waits "
            f"{rollout.min_days} days before the next cohort.",
            min_days=rollout.min_days,
        )
    if rollout.max_error_rate_bp is None and rollout.max_refusal_rate_bp is None:
        return facts
    _, in_groups, named = await cohort_targets(session, previous)
    totals = await rollout_queries.usage_counts(
        session, [u.id for u in in_groups + named], previous.promoted_at, now
    )
    requests = totals["requests"]
    for name, limit, part in (
        ("error rate", rollout.max_error_rate_bp, totals["errors"]),
        ("refusal rate", rollout.max_refusal_rate_bp, totals["refused"]),
    ):
        bp = part * 10_000 // requests if requests else 0
        facts[name.replace(" ", "_") + "_bp"] = bp
        if limit is not None and bp > limit:
            raise RolloutGateError(
                f"Cohort '{previous.name}' has a {name} of {bp / 100:.2f} % since its promotion, "
                f"above the rollout's {limit / 100:.2f} %; look at its metrics first.",
                rate_bp=bp,
                max_bp=limit,
            )
    return facts


async def window(
    session: AnySession, user_ids: list[uuid.UUID], since: datetime, until: datetime
) -> dict[str, Any]:
    """A cohort's members' usage over [since, until): activity, rates, spend, clients."""
    totals = await rollout_queries.usage_counts(session, user_ids, since, until)
    clients = await rollout_queries.usage_clients(session, user_ids, since, until)
    requests = totals["requests"]
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "active_members": totals["active"],
        "requests": requests,
        "refused": totals["refused"],
        "errors": totals["errors"],
        "refusal_rate": _pct(totals["refused"], requests),
        "error_rate": _pct(totals["errors"], requests),
        "spend": format_amount(totals["spend"]),
        "spend_micros": totals["spend"],
        "clients": dict(sorted(clients.items(), key=lambda kv: (-kv[1], kv[0]))),
    }


def _pct(part: int, whole: int) -> str:
    if not whole:
        return "0.00"
    return f"{part * 100 / whole:.2f}"
