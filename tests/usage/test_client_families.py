"""Client families from the user agents and headers the tools really send (each string built
the way the tool's own source builds it; see the comments in usage/clients.py), and group
policy accepting every family."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from spectra.policy.schemas import GroupPolicyChange
from spectra.usage.clients import CLIENT_FAMILIES, client_family

# (what, user agent, headers, family)
REAL = [
    ("opencode", "opencode/1.0.150", {}, "opencode"),
    (
        "opencode via ai-sdk",
        "opencode/0.15.8 ai-sdk/provider-utils/3.0.9 runtime/bun/1.3.0",
        {},
        "opencode",
    ),
    ("Qwen Code", "QwenCode/0.6.1 (linux; x64)", {}, "qwen_code"),
    ("Qwen Code on darwin", "QwenCode/0.24.7 (darwin; arm64)", {}, "qwen_code"),
    (
        "Kilo Code",
        "Kilo-Code/4.140.2",
        {
            "HTTP-Referer": "https://kilocode.ai",
            "X-Title": "Kilo Code",
            "X-KiloCode-Version": "4.140.2",
        },
        "kilo_code",
    ),
    ("Kilo Code on ai-sdk", "Kilo-Code/7.8.3 ai-sdk/provider-utils/3.0.0", {}, "kilo_code"),
    ("Kilo Code header only", "OpenAI/JS 5.12.2", {"X-KiloCode-Version": "4.140.2"}, "kilo_code"),
    ("Kilo Code fork of opencode", "opencode/7.8.3", {"X-Title": "Kilo Code"}, "kilo_code"),
    ("Cline", "Cline/3.38.1", {}, "cline"),
    (
        "Cline on an SDK",
        "OpenAI/JS 5.12.2",
        {"HTTP-Referer": "https://cline.bot", "X-Title": "Cline", "X-Cline-Version": "3.38.1"},
        "cline",
    ),
    ("Continue", "Continue/1.2.10 (Visual Studio Code; vscode)", {}, "continue"),
    (
        "Continue CLI",
        "OpenAI/JS 5.20.0",
        {"x-continue-unique-id": "5d7e3c7e-0a6f-4a39-9d39-2c0c1f0b7d11"},
        "continue",
    ),
    ("aider", "aider/0.86.1", {}, "aider"),
    (
        "aider through OpenRouter attribution",
        "OpenAI/Python 1.99.9",
        {"HTTP-Referer": "https://aider.chat", "X-Title": "Aider"},
        "aider",
    ),
    ("Gemini CLI", "GeminiCLI/0.34.0/gemini-2.5-pro (linux; x64)", {}, "gemini_cli"),
    ("Gemini CLI older", "GeminiCLI/0.1.5 (darwin; arm64)", {}, "gemini_cli"),
    ("Gemini CLI server", "GeminiCLI-a2a-server/0.34.0", {}, "gemini_cli"),
    ("Crush", "Charm-Crush/v0.97.1 (https://charm.land/crush)", {}, "crush"),
    ("pydantic-ai", "pydantic-ai/1.0.10", {}, "pydantic_ai"),
    ("LiteLLM", "litellm/1.77.5", {}, "litellm"),
    ("LiteLLM capitalised", "LiteLLM/1.77.5 python/3.12.4", {}, "litellm"),
    ("llm with its configured agent", "llm/0.27.1", {}, "llm"),
    ("Claude Code", "claude-cli/2.1.197 (external, sdk-cli)", {}, "claude_code"),
    (
        "Codex CLI",
        "codex_exec/0.171.0 (Debian 12.0.0; x86_64) xterm (codex_exec; 0.171.0)",
        {"originator": "codex_exec"},
        "codex_cli",
    ),
    ("OpenAI SDK", "OpenAI/Python 3.57.0", {}, "openai_sdk"),
    ("OpenAI async SDK", "AsyncOpenAI/Python 1.99.9", {}, "openai_sdk"),
    ("Anthropic SDK", "Anthropic/Python 2.14.0", {}, "anthropic_sdk"),
    ("Anthropic async SDK", "AsyncAnthropic/Python 0.69.0", {}, "anthropic_sdk"),
    # Look-alikes that are not these tools.
    ("not Gemini CLI", "geminiclient/1.0", {}, "other"),
    ("not llm", "llmproxy/2.0", {}, "other"),
    ("a bare SDK stays the SDK", "OpenAI/JS 5.12.2", {"X-Title": "My App"}, "openai_sdk"),
    ("curl", "curl/8.5.0", {}, "other"),
]


@pytest.mark.parametrize(
    ("user_agent", "headers", "family"), [r[1:] for r in REAL], ids=[r[0] for r in REAL]
)
def test_recognises_the_real_client(user_agent: str, headers: dict[str, str], family: str) -> None:
    assert client_family(user_agent, headers) == family


def test_every_family_is_allowed_in_group_policy() -> None:
    families = [f for f in CLIENT_FAMILIES if f != "other"]
    change = GroupPolicyChange(allowed_clients=families)
    assert change.allowed_clients == families
    for family in ("opencode", "qwen_code", "kilo_code", "cline", "continue", "gemini_cli"):
        assert family in families
    for family in ("crush", "pydantic_ai", "litellm", "llm", "aider"):
        assert family in families


def test_an_unknown_family_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValidationError, match=r"unknown client qwen-code; use .*qwen_code"):
        GroupPolicyChange(allowed_clients=["qwen-code"])
