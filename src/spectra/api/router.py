"""Mount the REST API: every module in `spectra.api.routes` contributes its `router`."""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter, FastAPI

from spectra.api import routes


def build_router() -> APIRouter:
    api = APIRouter(prefix="/api")
    for module in sorted(pkgutil.iter_modules(routes.__path__), key=lambda m: m.name):
        loaded = importlib.import_module(f"spectra.api.routes.{module.name}")
        api.include_router(loaded.router)
    return api


def install(app: FastAPI) -> None:
    app.include_router(build_router())
