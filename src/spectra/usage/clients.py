"""Which AI coding tool sent a request, from its user agent and headers (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

CLIENT_FAMILIES: Final = (
    "claude_code",
    "codex_cli",
    "openai_sdk",
    "anthropic_sdk",
    "cursor",
    "aider",
    "other",
)


def client_family(user_agent: str | None, headers: Mapping[str, str] | None = None) -> str:
    """One of `CLIENT_FAMILIES` for a request.

    Claude Code sends `claude-cli/2.1.197 (external, cli)` (and `x-app: cli`); Codex CLI sends
    `codex_exec/0.171.0 ...` or `codex_cli_rs/...` with an `originator` header; the official
    SDKs send `OpenAI/Python 3.57.0` / `Anthropic/Python 2.14.0` (or their JS/TS variants).
    Tools built on an SDK are recognised by their own marker first.
    """
    ua = (user_agent or "").strip().lower()
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    originator = str(lowered.get("originator", "")).lower()
    if ua.startswith("claude-cli/") or "claude-code" in ua or lowered.get("x-app") == "cli":
        return "claude_code"
    if ua.startswith(("codex_", "codex-", "codex/")) or originator.startswith("codex"):
        return "codex_cli"
    if "cursor" in ua or "x-cursor-client-version" in lowered:
        return "cursor"
    if "aider" in ua or "aider" in str(lowered.get("x-title", "")).lower():
        return "aider"
    if ua.startswith("anthropic/"):
        return "anthropic_sdk"
    if ua.startswith("openai/"):
        return "openai_sdk"
    return "other"
