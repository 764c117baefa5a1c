"""Copy-paste set-up snippets for a member key: Claude Code, Codex CLI and the SDKs, pointed at
the server's public base URL. Only the create/rotate answer passes the real secret; every other
page shows a placeholder."""

from __future__ import annotations

PLACEHOLDER = "sk-spectra-..."


def snippets(base_url: str, secret: str = PLACEHOLDER) -> list[tuple[str, str, str]]:
    """(id, title, text) for each client."""
    base = base_url.rstrip("/")
    return [
        (
            "claude-code",
            "Claude Code",
            f'export ANTHROPIC_BASE_URL="{base}"\nexport ANTHROPIC_API_KEY="{secret}"\nclaude',
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
