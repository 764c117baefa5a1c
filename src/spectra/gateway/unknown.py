"""Any other path under /v1: a 404 in the caller's protocol with a sentence naming the base URL
to use, instead of a bare `{"detail": "Not Found"}` that no coding tool explains.

Clients disagree on whether a base URL ends in /v1: Claude Code and the Anthropic SDK add
`/v1/messages` to theirs; OpenAI-style tools add `/chat/completions` or `/responses`, so their
base must end in /v1. The well-known paths are also answered without /v1 (`spectra.app`), so
only a wrong guess beyond those (such as /v1 twice) ends here.
"""

from __future__ import annotations

from starlette.routing import Match
from starlette.types import Receive, Scope, Send

from spectra.errors import ErrorKind, SpectraError

from . import refusals
from .body import header, request_id_of


class UnknownPathError(SpectraError):
    code = "unknown_path"
    kind = ErrorKind.NOT_FOUND


def _base(scope: Scope) -> str:
    host = header(scope, b"host") or "HOST:8080"
    return f"{scope.get('scheme', 'http')}://{host}"


def _speaks_anthropic(scope: Scope, path: str) -> bool:
    return (
        "/messages" in path
        or header(scope, b"anthropic-version") is not None
        or header(scope, b"x-api-key") is not None
    )


def unknown_path_sentence(method: str, path: str, base: str) -> str:
    advice = (
        f"Anthropic clients (Claude Code, ANTHROPIC_BASE_URL) use the base URL {base}; "
        f"OpenAI-compatible clients (Codex, opencode, aider, ...) use {base}/v1."
    )
    if path.startswith("/v1/v1/"):
        return f"This URL has /v1 twice ({path}): the base URL already ends in /v1. {advice}"
    return f"Spectra's gateway has no {method} {path}. {advice}"


class UnknownPathEndpoint:
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A known path asked with another method (GET /v1/messages) is a 405, as before this
        # catch-all existed: the route ahead of it that matches the path answers it.
        router = getattr(scope.get("app"), "router", None)
        for route in getattr(router, "routes", ()):
            if getattr(route, "endpoint", None) is self:
                break
            if route.matches(scope)[0] is Match.PARTIAL:
                await route.handle(scope, receive, send)
                return
        path = scope["path"]
        error = UnknownPathError(unknown_path_sentence(scope["method"], path, _base(scope)))
        await refusals.send_refusal(
            send,
            error,
            anthropic=_speaks_anthropic(scope, path),
            request_id=request_id_of(scope),
        )
