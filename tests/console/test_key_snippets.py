"""The key's set-up snippets: Claude Code's model variables name models the member's packages
include when those hold no Opus class model (plain `claude` asks for Opus), and every listed
tool gets a snippet on the server's public base URL."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from spectra.audit.actor import local_actor
from spectra.db.session import session_scope
from spectra.packages import service as packages_service
from spectra.packages.schemas import PackageCreate
from spectra.pool import service as pool_service
from spectra.pool.schemas import AccountCreate
from spectra.runtime import Runtime

TOOLS = (
    "claude-code",
    "codex",
    "opencode",
    "qwen-code",
    "continue",
    "kilo-code",
    "cline",
    "aider",
    "openai-sdk",
    "anthropic-sdk",
)


async def _member_on(browser: Any, runtime: Runtime, patterns: list[str]) -> Any:
    member = await browser(role="member")
    async with session_scope(runtime.db) as session:
        await pool_service.add_account(
            session,
            local_actor(),
            data=AccountCreate.model_validate(
                {
                    "name": "anthropic-a",
                    "provider": "anthropic",
                    "base_url": "http://127.0.0.1:9",
                    "api_key": "sk-ant-snippets-0001",
                    "models": ["claude-opus-4-1", "claude-sonnet-4-5", "claude-haiku-4-5"],
                }
            ),
        )
        await packages_service.create_package(
            session,
            local_actor(),
            data=PackageCreate.model_validate(
                {
                    "name": "Plan",
                    "allowance": "20",
                    "period": "monthly",
                    "model_patterns": patterns,
                }
            ),
        )
        await packages_service.assign_package(
            session, local_actor(), package="Plan", user_id=member.user.id, reason="test"
        )
    return member


def _snippet(page: str, tool: str) -> str:
    found = re.search(rf'<pre id="snippet-{tool}">(.*?)</pre>', page, re.S)
    assert found, f"no snippet for {tool}"
    return html.unescape(found.group(1))


async def test_a_starter_member_gets_the_models_their_package_includes(
    browser: Any, runtime: Runtime
) -> None:
    member = await _member_on(browser, runtime, ["claude-sonnet-*", "claude-haiku-*"])
    created = await member.post_form("/console/me/keys", {"name": "laptop"})
    assert created.status_code == 200, created.text

    claude = _snippet(created.text, "claude-code")
    assert 'export ANTHROPIC_MODEL="claude-sonnet-4-5"' in claude
    assert 'export ANTHROPIC_SMALL_FAST_MODEL="claude-haiku-4-5"' in claude
    assert 'export ANTHROPIC_DEFAULT_OPUS_MODEL="claude-sonnet-4-5"' in claude
    assert 'export ANTHROPIC_DEFAULT_HAIKU_MODEL="claude-haiku-4-5"' in claude
    assert claude.rstrip().endswith("claude")
    assert "opus" not in claude.lower().replace("default_opus_model", "")


@pytest.mark.parametrize("patterns", [["claude-*"], []])
async def test_a_member_who_may_use_opus_keeps_claude_codes_defaults(
    browser: Any, runtime: Runtime, patterns: list[str]
) -> None:
    member = await _member_on(browser, runtime, patterns)
    page = await member.get("/console/me/keys")
    assert page.status_code == 200
    assert "ANTHROPIC_MODEL" not in _snippet(page.text, "claude-code")


async def test_every_tool_gets_a_snippet_on_the_public_base(browser: Any, runtime: Runtime) -> None:
    member = await _member_on(browser, runtime, ["claude-sonnet-*"])
    page = await member.get("/console/me/keys")
    base = runtime.settings.public_base()
    for tool in TOOLS:
        assert base in _snippet(page.text, tool), tool
    assert f'"baseURL": "{base}/v1"' in _snippet(page.text, "opencode")
    assert "aider --model openai/claude-sonnet-4-5" in _snippet(page.text, "aider")
