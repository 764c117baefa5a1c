"""Staged rollouts: the list, one rollout with its cohorts and per-cohort metrics (before and
after each promotion), and the promote / roll back actions (confirmed, CSRF-checked) through the
same service functions as /api/rollouts.

URLs: GET /console/rollouts, GET /console/rollouts/{rollout},
POST /console/rollouts/{rollout}/promote, POST /console/rollouts/{rollout}/rollback.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import Response

from spectra.console.deps import AdminDep, ReadSessionDep, SessionDep
from spectra.console.forms import Form
from spectra.console.render import redirect, render
from spectra.policy import drafts as drafts_service
from spectra.policy import rollouts as rollouts_service

router = APIRouter()


@router.get("/rollouts")
async def list_rollouts(
    request: Request, viewer: AdminDep, session: ReadSessionDep, cursor: str | None = None
) -> Response:
    page = await rollouts_service.list_rollouts(session, viewer.actor, limit=50, cursor=cursor)
    return render(
        request,
        viewer,
        "rollouts/list.html",
        title="Rollouts",
        nav="Rollouts",
        rollouts=[rollouts_service.rollout_view(r) for r in page.items],
        next_cursor=page.next_cursor,
    )


@router.get("/rollouts/{rollout}")
async def show_rollout(
    request: Request, viewer: AdminDep, session: ReadSessionDep, rollout: str, days: int = 7
) -> Response:
    days = max(1, min(90, days))
    metrics = await rollouts_service.rollout_metrics(
        session, viewer.actor, rollout=rollout, days=days
    )
    return render(
        request,
        viewer,
        "rollouts/show.html",
        title=f"Rollout {metrics['rollout']['name']}",
        nav="Rollouts",
        rollout=metrics["rollout"],
        cohorts=metrics["cohorts"],
        days=days,
    )


def _back(rollout: str) -> str:
    return f"/console/rollouts/{quote(rollout, safe='')}"


@router.post("/rollouts/{rollout}/promote")
async def promote(
    request: Request, viewer: AdminDep, session: SessionDep, rollout: str
) -> Response:
    """Publishes the cohort's latest dry-run draft; without one, only when confirmed."""
    form = await Form.read(request)
    cohort = await drafts_service.promote_cohort(
        session,
        viewer.actor,
        rollout=rollout,
        cohort=form.get("cohort") or None,
        confirm_without_dry_run=form.flag("confirm_without_dry_run"),
    )
    return redirect(_back(rollout), ok=f"Cohort {cohort.name} is promoted.")


@router.post("/rollouts/{rollout}/rollback")
async def rollback(
    request: Request, viewer: AdminDep, session: SessionDep, rollout: str
) -> Response:
    form = await Form.read(request)
    cohort = await rollouts_service.rollback(
        session, viewer.actor, rollout=rollout, cohort=form.get("cohort") or None
    )
    return redirect(_back(rollout), ok=f"Cohort {cohort.name} is rolled back.")
