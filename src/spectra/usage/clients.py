"""Which AI coding tool sent a request, from its user agent and headers (pure).

Each rule names where its pattern comes from: the tool's own public source, so a rule matches
what the tool really sends. Order matters: a tool built on an SDK (or on another tool) is
recognised by its own marker before the SDK's or the parent's.

What cannot be told apart, and shows as the SDK underneath:
- `llm` (simonw/llm) talks through the `openai` SDK and sends only the headers configured in
  `extra-openai-models.yaml` (`get_client` in llm/default_plugins/openai_models.py): it is
  `llm` here when that file sets `User-Agent: llm/<version>`, else `openai_sdk`.
- `aider` talks through LiteLLM: `litellm` on the Anthropic wire (LiteLLM's own HTTP client),
  `openai_sdk` on the OpenAI wire, unless it sends its OpenRouter markers (aider/llm.py sets
  OR_SITE_URL=https://aider.chat and OR_APP_NAME=Aider).
- `pydantic_ai`'s own `pydantic-ai/<v>` agent is overridden by the OpenAI and Anthropic SDKs'
  headers when it uses them; it shows as `pydantic_ai` on its own HTTP clients.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Final

CLIENT_FAMILIES: Final = (
    "claude_code",
    "codex_cli",
    "openai_sdk",
    "anthropic_sdk",
    "cursor",
    "aider",
    "opencode",
    "qwen_code",
    "kilo_code",
    "cline",
    "continue",
    "gemini_cli",
    "crush",
    "pydantic_ai",
    "litellm",
    "llm",
    "other",
)

# (family, user-agent pattern matched at the start, lower-cased), in match order.
_USER_AGENTS: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    # Kilo Code: `"User-Agent": `Kilo-Code/${Package.version}`` with X-Title "Kilo Code" and
    # X-KiloCode-Version (Kilo-Org/kilocode src/api/providers/constants.ts DEFAULT_HEADERS).
    ("kilo_code", re.compile(r"kilo-code/")),
    # opencode: `const USER_AGENT = `opencode/${InstallationVersion}`` on model requests
    # (sst/opencode packages/opencode/src/session/llm/request.ts).
    ("opencode", re.compile(r"opencode/")),
    # Qwen Code: `QwenCode/${version} (${process.platform}; ${process.arch})`
    # (QwenLM/qwen-code packages/core/src/core/openaiContentGenerator/provider/default.ts).
    ("qwen_code", re.compile(r"qwencode/")),
    # Gemini CLI: `GeminiCLI/${version}/${model} (${platform}; ${arch})`, before that
    # `GeminiCLI/${version} (...)` (google-gemini/gemini-cli packages/core/src/core/
    # contentGenerator.ts); its servers add a suffix (`GeminiCLI-a2a-server/...`).
    ("gemini_cli", re.compile(r"geminicli(-[a-z0-9-]+)?/")),
    # Crush: `fmt.Sprintf("Charm-Crush/%s (https://charm.land/crush)", version.Version)`
    # (charmbracelet/crush internal/agent/agent.go).
    ("crush", re.compile(r"charm-crush/")),
    # Cline: `"User-Agent": `Cline/${ExtensionRegistryInfo.version}`` from
    # buildExternalBasicHeaders (cline/cline src/services/EnvUtils.ts), used by its providers.
    ("cline", re.compile(r"cline/")),
    # Continue: `Continue/${extensionVersion} (${ideName}; ${ideType})`
    # (continuedev/continue core/llm/llms/stubs/ContinueProxy.ts _getUserAgent).
    ("continue", re.compile(r"continue/")),
    ("cursor", re.compile(r".*cursor")),
    ("aider", re.compile(r".*aider")),
    # pydantic-ai: `return f'pydantic-ai/{__version__}'` (pydantic/pydantic-ai
    # pydantic_ai_slim/pydantic_ai/models/__init__.py get_user_agent).
    ("pydantic_ai", re.compile(r"pydantic-ai/")),
    # LiteLLM: `headers = {"User-Agent": f"litellm/{version}"}` (BerriAI/litellm
    # litellm/llms/custom_httpx/http_handler.py); some providers send `LiteLLM/{version}`.
    ("litellm", re.compile(r"litellm/")),
    # llm: only as configured (see the module docstring).
    ("llm", re.compile(r"llm/")),
    # The official SDKs: `f"{self.__class__.__name__}/Python {self._version}"`
    # (openai-python / anthropic-sdk-python _base_client.py user_agent), so the async clients
    # send `AsyncOpenAI/Python ...` / `AsyncAnthropic/Python ...`; the JS SDKs `OpenAI/JS ...`.
    ("anthropic_sdk", re.compile(r"(async)?anthropic/")),
    ("openai_sdk", re.compile(r"(async)?openai/")),
)

# X-Title values tools send beside an SDK user agent (OpenRouter's app attribution headers).
_TITLES: Final = {
    # Kilo-Org/kilocode src/api/providers/constants.ts
    "kilo code": "kilo_code",
    # cline/cline src/core/api/providers/*.ts defaultHeaders {"X-Title": "Cline"}
    "cline": "cline",
    # Aider-AI/aider aider/llm.py OR_APP_NAME (LiteLLM sends it as X-Title to OpenRouter)
    "aider": "aider",
}


def client_family(user_agent: str | None, headers: Mapping[str, str] | None = None) -> str:
    """One of `CLIENT_FAMILIES` for a request.

    Claude Code sends `claude-cli/2.1.197 (external, cli)` (and `x-app: cli`); Codex CLI sends
    `codex_exec/0.171.0 ...` or `codex_cli_rs/...` with an `originator` header; the other
    tools as `_USER_AGENTS` and `_TITLES` say.
    """
    ua = (user_agent or "").strip().lower()
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    originator = str(lowered.get("originator", "")).lower()
    if ua.startswith("claude-cli/") or "claude-code" in ua or lowered.get("x-app") == "cli":
        return "claude_code"
    if ua.startswith(("codex_", "codex-", "codex/")) or originator.startswith("codex"):
        return "codex_cli"
    title = _TITLES.get(str(lowered.get("x-title", "")).strip().lower())
    if title is not None:
        return title
    if "x-kilocode-version" in lowered:
        return "kilo_code"
    if "x-cline-version" in lowered:
        return "cline"
    # Continue's CLI adds it to every model request (continuedev/continue
    # extensions/cli/src/config.ts _mergeUserAgentIntoRequestOptions).
    if "x-continue-unique-id" in lowered:
        return "continue"
    if "x-cursor-client-version" in lowered:
        return "cursor"
    if "aider.chat" in str(lowered.get("http-referer", "")).lower():
        return "aider"
    for family, pattern in _USER_AGENTS:
        if pattern.match(ua):
            return family
    return "other"


_PRESENCE: Final = frozenset(
    {"x-kilocode-version", "x-cline-version", "x-continue-unique-id", "x-cursor-client-version"}
)
"""Headers whose presence alone `client_family` reads."""
_VALUED: Final = frozenset({"originator", "x-app", "x-title"})


def client_family_of(pairs: Iterable[tuple[str, str]]) -> str:
    """`client_family` of a request's header pairs (as the gateway reads them), remembered per
    distinct user agent and deciding headers: the gateway asks this for every request, and
    its clients send a handful of distinct user agents."""
    user_agent: str | None = None
    signals: list[tuple[str, str]] = []
    for name, value in pairs:
        key = name.lower()
        if key == "user-agent":
            if user_agent is None:  # the first, as `gateway.body.header` reads it
                user_agent = value
        elif key in _PRESENCE:
            signals.append((key, ""))
        elif key in _VALUED:
            signals.append((key, value))
        elif key == "http-referer":  # the last one counts, as in `dict(pairs)`
            signals.append((key, "aider.chat" if "aider.chat" in value.lower() else ""))
    return _family(user_agent, tuple(signals))


@lru_cache(maxsize=2048)
def _family(user_agent: str | None, signals: tuple[tuple[str, str], ...]) -> str:
    return client_family(user_agent, dict(signals))
