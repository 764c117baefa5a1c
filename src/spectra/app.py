"""create_app(): mounts the gateway (/v1), the REST API (/api), the console (/console) and SCIM
(/scim/v2). Each surface is imported when an app mounts it: the CLI's in-process app mounts the
REST API alone, so a local command never loads the console, the gateway or SCIM."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import text
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from spectra import __version__
from spectra.config import Settings, get_settings
from spectra.errors import SpectraError
from spectra.logs import request_id_var
from spectra.middleware import ConsoleHeadersMiddleware, RequestIdMiddleware, request_id_for
from spectra.runtime import Runtime, build_runtime, close_runtime

log = logging.getLogger(__name__)

Surface = Literal["gateway", "api", "console", "scim"]
SURFACES: tuple[Surface, ...] = ("gateway", "api", "console", "scim")
"""Mounted in this order: the gateway's routes ahead of everything else."""

GATEWAY_PREFIX = "/v1/"
UNVERSIONED = frozenset(
    ("/messages", "/messages/count_tokens", "/chat/completions", "/responses", "/models")
)
"""Gateway paths also answered without /v1: AI-SDK-based tools (opencode, Kilo, ...) post to
`/messages` or `/chat/completions` under whatever base URL they are given."""


class SpectraApp(FastAPI):
    """FastAPI, except that an HTTP request for one of the gateway's plain ASGI endpoints skips
    the middleware stack and the router: the request id, the exception handlers and the 500
    handler are applied here exactly as `RequestIdMiddleware`, Starlette's exception middleware
    and its server-error middleware would (same headers, same bodies, same logs). Everything
    else (other paths and methods, websockets, a root path) takes the usual way.
    """

    _gateway_routes: dict[tuple[str, str], ASGIApp] | None = None
    _proxies: ProxyHeadersMiddleware | None = None

    def trust_proxies(self, proxies: list[str]) -> None:
        """Believe X-Forwarded-For/-Proto only from these IPs or CIDRs (none: the TCP peer is
        the client). Every client-IP decision (key allowlists, sign-in throttle, audit) reads
        `scope["client"]`, which this sets once, here."""
        self._proxies = ProxyHeadersMiddleware(self._dispatch, proxies) if proxies else None  # type: ignore[arg-type]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._proxies is not None and scope["type"] != "lifespan":
            await self._proxies(scope, receive, send)  # type: ignore[arg-type]
        else:
            await self._dispatch(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in UNVERSIONED:
            path = "/v1" + scope["path"]
            scope = {**scope, "path": path, "raw_path": path.encode()}
        if scope["type"] == "http" and scope["path"].startswith(GATEWAY_PREFIX):
            routes = self._gateway_routes
            if routes is None:
                routes = self._gateway_routes = _gateway_routes(self)
            endpoint = routes.get((scope["method"], scope["path"]))
            if endpoint is not None and not scope.get("root_path") and not self.root_path:
                await self._gateway(endpoint, scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def _gateway(self, endpoint: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self
        rid = request_id_for(scope)
        state = scope.get("state")
        if state is None:
            scope["state"] = {"request_id": rid}
        else:
            state["request_id"] = rid
        header = (b"x-request-id", rid.encode())
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        token = request_id_var.set(rid)
        reset = False
        try:
            try:
                await endpoint(scope, receive, send_with_id)
            except Exception as exc:
                handler = _handler_for(self, exc)
                if handler is None:
                    raise
                if started:
                    raise RuntimeError(
                        "Caught handled exception, but response already started."
                    ) from exc
                handled: Response = await handler(Request(scope, receive), exc)
                await handled(scope, receive, send_with_id)
        except Exception as exc:
            request_id_var.reset(token)
            reset = True
            # As Starlette's ServerErrorMiddleware: the 500 handler, without the request id
            # header (that middleware sits outside RequestIdMiddleware), then re-raise.
            unexpected = cast(
                Callable[..., Awaitable[Response]] | None,
                self.exception_handlers.get(500) or self.exception_handlers.get(Exception),
            )
            if unexpected is not None:
                response = await unexpected(Request(scope), exc)
                if not started:
                    await response(scope, receive, send)
            raise
        finally:
            if not reset:
                request_id_var.reset(token)


def _gateway_routes(app: FastAPI) -> dict[tuple[str, str], ASGIApp]:
    """(method, path) -> endpoint for every gateway route the router itself would pick first
    (a plain ASGI endpoint under /v1/ with a fixed path), found with the router's own matching."""
    table: dict[tuple[str, str], ASGIApp] = {}
    candidates = [
        (method, route.path)
        for route in app.router.routes
        if isinstance(route, Route)
        and route.path.startswith(GATEWAY_PREFIX)
        and not route.param_convertors
        for method in route.methods or ()
    ]
    for method, path in candidates:
        probe: Scope = {"type": "http", "path": path, "method": method, "root_path": ""}
        for route in app.router.routes:
            match, _ = route.matches(probe)
            if match is Match.FULL:
                if isinstance(route, Route) and route.path == path and route.app is route.endpoint:
                    table[(method, path)] = route.app
                break
    return table


def _handler_for(app: FastAPI, exc: Exception) -> Callable[..., Awaitable[Response]] | None:
    handlers = app.exception_handlers
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        if cls in handlers:
            return cast(Callable[..., Awaitable[Response]], handlers[cls])
    return None


def _freeze_startup_objects() -> None:
    """Keep what start-up built (routes, price tables, caches) out of the garbage collector's
    passes: it lives as long as the process, and scanning it in a full collection pauses the
    event loop for every request in flight (visible as p99 latency and stream gaps)."""
    gc.collect()
    gc.freeze()


def _install(app: FastAPI, surface: Surface) -> None:
    """Import one surface and mount it (imported here, so an app without it never loads it)."""
    if surface == "gateway":
        from spectra.gateway import router as gateway_router

        gateway_router.install(app)
    elif surface == "api":
        from spectra.api import router as api_router

        api_router.install(app)
    elif surface == "console":
        from spectra.console import router as console_router

        console_router.install(app)
    else:
        from spectra.scim import router as scim_router

        scim_router.install(app)


def create_app(
    runtime: Runtime | None = None,
    *,
    settings: Settings | None = None,
    serve: bool = False,
    surfaces: tuple[Surface, ...] = SURFACES,
) -> SpectraApp:
    """Build the ASGI app. With `runtime`, the caller owns its lifetime (tests); otherwise the
    lifespan builds one, and with `serve` takes the serve lease. `surfaces` names what it mounts
    (all of them unless told: the CLI's in-process app mounts only "api").
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
        if serve:
            _freeze_startup_objects()
        try:
            yield
        finally:
            if owns_runtime:
                await close_runtime(runtime)

    app = SpectraApp(
        title="Spectra",
        version=__version__,
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    if runtime is not None:
        app.state.runtime = runtime
    app.trust_proxies(
        (runtime.settings if runtime else settings or get_settings()).trusted_proxy_list
    )

    for surface in surfaces:
        _install(app, surface)

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
            from spectra.db import migrate

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
        if request.url.path.startswith("/v1"):
            # The gateway answers in the caller's protocol, so its SDK reads the error.
            gateway: Response = _surface_for(request.url.path).render_unexpected(request, rid)
            return gateway
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

    app.add_middleware(ConsoleHeadersMiddleware)
    app.add_middleware(RequestIdMiddleware)
    return app


def serve_app() -> FastAPI:
    """The app of one `spectra serve --workers N` worker (uvicorn imports it by name)."""
    from spectra import logs

    settings = get_settings()
    logs.configure(settings.log_level, as_json=settings.log_json)
    return create_app(settings=settings, serve=True)


def _surface_for(path: str) -> Any:
    """The module that renders an error for `path` (`render_error`, `render_validation_error`,
    and for the gateway `render_unexpected`): imported only when an error needs it."""
    if path.startswith("/v1"):
        from spectra.gateway import refusals

        return refusals
    if path.startswith("/console"):
        from spectra.console import handlers as console_handlers

        return console_handlers
    from spectra.api import handlers as api_handlers

    return api_handlers
