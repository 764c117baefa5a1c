"""Mount the console: every module in `spectra.console.pages` contributes its `router`, in the order
of `PAGES` (a new page module is added to it by hand; a test checks none is left out)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI
from starlette.responses import RedirectResponse
from starlette.staticfiles import StaticFiles

from spectra.console.i18n import use_locale
from spectra.console.pages import (
    alerts,
    audit,
    auth,
    budgets,
    drafts,
    fallbacks,
    group_policy,
    groups,
    language,
    ledger,
    me,
    me_tokens,
    mfa,
    overview,
    packages,
    passkeys,
    policy,
    pool,
    recharges,
    reports,
    rollouts,
    scim_tokens,
    search,
    settings,
    sso,
    sso_providers,
    team,
    team_members,
    team_usage,
    usage,
    users,
)

STATIC_DIR = Path(__file__).parent / "static"

PAGES = (
    alerts,
    audit,
    auth,
    budgets,
    drafts,
    fallbacks,
    group_policy,
    groups,
    language,
    ledger,
    me,
    me_tokens,
    mfa,
    overview,
    packages,
    passkeys,
    policy,
    pool,
    recharges,
    reports,
    rollouts,
    scim_tokens,
    search,
    settings,
    sso,
    sso_providers,
    team,
    team_members,
    team_usage,
    usage,
    users,
)


def build_router() -> APIRouter:
    router = APIRouter(
        prefix="/console", include_in_schema=False, dependencies=[Depends(use_locale)]
    )
    for module in PAGES:
        router.include_router(module.router)
    return router


def install(app: FastAPI) -> None:
    app.mount("/console/static", StaticFiles(directory=STATIC_DIR), name="console-static")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> RedirectResponse:
        """Browsers ask for /favicon.ico on every page without an icon link (/api/docs)."""
        return RedirectResponse("/console/static/favicon.svg", status_code=301)

    app.include_router(build_router())
