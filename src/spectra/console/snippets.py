"""Copy-paste set-up snippets for a member key, pointed at the server's public base URL: Claude
Code, Codex CLI, opencode, Qwen Code, Continue, Kilo Code, Cline, aider and the SDKs. Only the
create/rotate answer passes the real secret; every other page shows a placeholder.

Claude Code asks for Opus unless told otherwise: for a member whose packages hold no Opus class
model, its snippet sets the model variables to models the packages include
(`spectra.kit.model_choice`), so plain `claude` works at once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from fnmatch import fnmatchcase

from spectra.audit.actor import Actor
from spectra.db.session import AnySession
from spectra.kit.model_choice import ClaudeModels, best, claude_models
from spectra.policy import service as policy_service

PLACEHOLDER = "sk-spectra-..."
DEFAULT_MODEL = "claude-sonnet-4-5"


@dataclass(frozen=True, slots=True)
class MemberModels:
    """What the snippets name: Claude Code's variables (None: its defaults are allowed) and one
    model for the tools that need a name."""

    claude: ClaudeModels | None = None
    model: str = DEFAULT_MODEL


async def member_models(session: AnySession, actor: Actor, user_id: uuid.UUID) -> MemberModels:
    """The models a member's snippets name: those their packages include first (a wallet may pay
    for more, but the package is what the admin meant), else any they may use."""
    view = await policy_service.member_view(session, actor, user_id=user_id)
    usable: list[str] = view["models"]
    patterns = [p for pkg in view["packages"] for p in (pkg["models"] or ["*"])]
    covered = [m for m in usable if any(fnmatchcase(m, p) for p in patterns)] or usable
    claude = claude_models(covered)
    if claude is not None:
        return MemberModels(claude=claude, model=claude.main)
    picks = best(m for m in covered if m.startswith("claude-")) or best(covered)
    return MemberModels(model=picks[0] if picks else DEFAULT_MODEL)


def snippets(
    base_url: str, secret: str = PLACEHOLDER, models: MemberModels | None = None
) -> list[tuple[str, str, str]]:
    """(id, title, text) for each client."""
    base = base_url.rstrip("/")
    chosen = models or MemberModels()
    model = chosen.model
    claude_env = "".join(
        f'export {k}="{v}"\n' for k, v in (chosen.claude.env() if chosen.claude else [])
    )
    return [
        (
            "claude-code",
            "Claude Code",
            f'export ANTHROPIC_BASE_URL="{base}"\nexport ANTHROPIC_API_KEY="{secret}"\n'
            f"{claude_env}claude",
        ),
        (
            "codex",
            "Codex CLI (~/.codex/config.toml, then run codex)",
            'model_provider = "spectra"\n\n'
            "[model_providers.spectra]\n"
            'name = "Spectra"\n'
            f'base_url = "{base}/v1"\n'
            'env_key = "SPECTRA_API_KEY"\n'
            'wire_api = "responses"\n\n'
            f'# in your shell:\n# export SPECTRA_API_KEY="{secret}"',
        ),
        (
            "opencode",
            "opencode (opencode.json, then run opencode)",
            "{\n"
            '  "$schema": "https://opencode.ai/config.json",\n'
            '  "provider": {\n'
            '    "spectra": {\n'
            '      "npm": "@ai-sdk/anthropic",\n'
            '      "name": "Spectra",\n'
            f'      "options": {{"baseURL": "{base}/v1", "apiKey": "{secret}"}},\n'
            f'      "models": {{"{model}": {{}}}}\n'
            "    }\n"
            "  },\n"
            f'  "model": "spectra/{model}"\n'
            "}",
        ),
        (
            "qwen-code",
            "Qwen Code",
            f'export OPENAI_BASE_URL="{base}/v1"\nexport OPENAI_API_KEY="{secret}"\n'
            f'export OPENAI_MODEL="{model}"\nqwen --auth-type openai',
        ),
        (
            "continue",
            "Continue (~/.continue/config.yaml)",
            "models:\n"
            "  - name: Spectra\n"
            "    provider: anthropic\n"
            f"    model: {model}\n"
            f"    apiBase: {base}/v1/\n"
            f"    apiKey: {secret}",
        ),
        (
            "kilo-code",
            "Kilo Code (settings: API provider)",
            f"API Provider: Anthropic\nUse custom base URL: {base}\nAPI Key: {secret}\nModel: {model}",
        ),
        (
            "cline",
            "Cline (settings: API provider)",
            f"API Provider: Anthropic\nUse custom base URL: {base}\nAPI Key: {secret}\nModel: {model}",
        ),
        (
            "aider",
            "aider",
            f'export OPENAI_API_BASE="{base}/v1"\nexport OPENAI_API_KEY="{secret}"\n'
            f"aider --model openai/{model}",
        ),
        (
            "openai-sdk",
            "OpenAI SDK (Python)",
            f'from openai import OpenAI\nclient = OpenAI(base_url="{base}/v1", api_key="{secret}")',
        ),
        (
            "anthropic-sdk",
            "Anthropic SDK (Python)",
            f'from anthropic import Anthropic\nclient = Anthropic(base_url="{base}", api_key="{secret}")',
        ),
    ]
