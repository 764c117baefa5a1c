"""create_app(): mounts the gateway (/v1), the REST API (/api) and the console (/console)."""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import text
from starlette.responses import JSONResponse, RedirectResponse, Response

from spectra import __version__
from spectra.config import Settings, get_settings
from spectra.db import migrate
from spectra.errors import SpectraError
from spectra.middleware import RequestIdMiddleware
from spectra.runtime import Runtime, build_runtime, close_runtime

log = logging.getLogger(__name__)

SURFACES = ("gateway", "api", "console")


def create_app(
    runtime: Runtime | None = None, *, settings: Settings | None = None, serve: bool = False
) -> FastAPI:
    """Build the ASGI app. With `runtime`, the caller owns its lifetime (tests); otherwise the
    lifespan builds one, and with `serve` takes the serve lease.
    """
    owns_runtime = runtime is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nonlocal runtime
        if runtime is None:
            runtime = await build_runtime(settings or get_settings())
        app.state.runtime = runtime
        if not runtime.started:
            await runtime.start(serve=serve)
        try:
            yield
        finally:
            if owns_runtime:
                await close_runtime(runtime)

    app = FastAPI(
        title="Spectra",
        version=__version__,
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    if runtime is not None:
        app.state.runtime = runtime

    for name in SURFACES:
        module = importlib.import_module(f"spectra.{name}.router")
        module.install(app)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> Response:
        rt: Runtime = request.app.state.runtime
        checks: dict[str, str] = {}
        try:
            async with rt.db.read_engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        if checks["database"] == "ok":
            try:
                checks["migrations"] = (
                    "ok" if await migrate.check_schema(rt.db.url) == "ok" else "behind"
                )
            except SpectraError as exc:
                checks["migrations"] = exc.message
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        from spectra import metrics as exposition

        body = await exposition.render(request.app.state.runtime)
        return Response(body, media_type=exposition.CONTENT_TYPE)

    @app.head("/", include_in_schema=False)
    async def head_root() -> Response:
        return Response(status_code=200)

    @app.get("/", include_in_schema=False)
    async def root() -> Response:
        return RedirectResponse("/console/", status_code=302)

    @app.exception_handler(SpectraError)
    async def spectra_error(request: Request, exc: SpectraError) -> Response:
        response: Response = _surface_for(request.url.path).render_error(request, exc)
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        response: Response = _surface_for(request.url.path).render_validation_error(request, exc)
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        rid = request.scope.get("state", {}).get("request_id", "")
        log.exception("unhandled error", extra={"path": request.url.path})
        return JSONResponse(
            {
                "error": {
                    "code": "internal_error",
                    "message": f"Something went wrong on our side (request {rid}).",
                    "details": {"request_id": rid},
                }
            },
            status_code=500,
        )

    app.add_middleware(RequestIdMiddleware)
    return app


def serve_app() -> FastAPI:
    """The app of one `spectra serve --workers N` worker (uvicorn imports it by name)."""
    from spectra import logs

    settings = get_settings()
    logs.configure(settings.log_level, as_json=settings.log_json)
    return create_app(settings=settings, serve=True)


def _surface_for(path: str) -> Any:
    if path.startswith("/v1"):
        return importlib.import_module("spectra.gateway.refusals")
    if path.startswith("/console"):
        return importlib.import_module("spectra.console.handlers")
    return importlib.import_module("spectra.api.handlers")
