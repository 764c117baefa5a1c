"""Mount the console: every module in `spectra.console.pages` contributes its `router`."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from fastapi import APIRouter, FastAPI
from starlette.staticfiles import StaticFiles

from spectra.console import pages

STATIC_DIR = Path(__file__).parent / "static"


def build_router() -> APIRouter:
    router = APIRouter(prefix="/console", include_in_schema=False)
    for module in sorted(pkgutil.iter_modules(pages.__path__), key=lambda m: m.name):
        loaded = importlib.import_module(f"spectra.console.pages.{module.name}")
        router.include_router(loaded.router)
    return router


def install(app: FastAPI) -> None:
    app.mount("/console/static", StaticFiles(directory=STATIC_DIR), name="console-static")
    app.include_router(build_router())
