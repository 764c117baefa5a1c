"""Mount the REST API: every module in `spectra.api.routes` contributes its `router`, in the order of
`ROUTES` (a new route module is added to it by hand; a test checks none is left out)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from spectra.api.routes import (
    alerts,
    audit,
    auth,
    budgets,
    codes,
    fallbacks,
    groups,
    keys,
    ledger,
    me,
    packages,
    policy,
    pool,
    prices,
    projects,
    rollouts,
    settings,
    sso,
    statements,
    tokens,
    usage,
    users,
)

ROUTES = (
    alerts,
    audit,
    auth,
    budgets,
    codes,
    fallbacks,
    groups,
    keys,
    ledger,
    me,
    packages,
    policy,
    pool,
    prices,
    projects,
    rollouts,
    settings,
    sso,
    statements,
    tokens,
    usage,
    users,
)


def build_router() -> APIRouter:
    api = APIRouter(prefix="/api")
    for module in ROUTES:
        api.include_router(module.router)
    return api


def install(app: FastAPI) -> None:
    app.include_router(build_router())
