"""Mount the gateway's routes under /v1 (plain ASGI endpoints on the hot path); any other
/v1 path answers `unknown_path` in the caller's protocol."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.routing import Route, WebSocketRoute

from spectra.providers.types import WireProtocol

from .endpoints import CountTokensEndpoint, ModelsEndpoint, ResponsesSocketEndpoint
from .gemini import (
    GeminiCountTokensEndpoint,
    GeminiGenerationEndpoint,
    GeminiModelsEndpoint,
)
from .generation import GenerationEndpoint
from .unknown import UnknownPathEndpoint

ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def install(app: FastAPI) -> None:
    """Add the gateway's endpoints to `app` (ahead of everything else)."""
    socket = ResponsesSocketEndpoint()
    routes = [
        Route(
            "/v1/chat/completions",
            GenerationEndpoint(WireProtocol.OPENAI_CHAT, "/v1/chat/completions"),
            methods=["POST"],
        ),
        Route(
            "/v1/responses",
            GenerationEndpoint(WireProtocol.OPENAI_RESPONSES, "/v1/responses"),
            methods=["POST"],
        ),
        Route("/v1/responses", socket, methods=["GET"]),
        WebSocketRoute("/v1/responses", socket),
        Route(
            "/v1/messages",
            GenerationEndpoint(WireProtocol.ANTHROPIC_MESSAGES, "/v1/messages"),
            methods=["POST"],
        ),
        Route("/v1/messages/count_tokens", CountTokensEndpoint(), methods=["POST"]),
        Route("/v1/models", ModelsEndpoint(), methods=["GET"]),
        Route(
            "/v1beta/models/{model}:generateContent",
            GeminiGenerationEndpoint(stream=False),
            methods=["POST"],
        ),
        Route(
            "/v1beta/models/{model}:streamGenerateContent",
            GeminiGenerationEndpoint(stream=True),
            methods=["POST"],
        ),
        Route("/v1beta/models/{model}:countTokens", GeminiCountTokensEndpoint(), methods=["POST"]),
        Route("/v1beta/models", GeminiModelsEndpoint(), methods=["GET"]),
        # Last: any other path under /v1 is a wrong base URL, said in the caller's protocol.
        Route("/v1/{rest:path}", UnknownPathEndpoint(), methods=ANY_METHOD),
    ]
    app.router.routes[0:0] = routes
