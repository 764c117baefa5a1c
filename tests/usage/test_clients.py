from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spectra.usage.clients import CLIENT_FAMILIES, client_family, client_family_of

RECORDINGS = Path("/work/shared/fixtures/client-recordings")


class TestClientFamily:
    @pytest.mark.parametrize(
        ("user_agent", "headers", "family"),
        [
            ("claude-cli/2.1.197 (external, cli)", {}, "claude_code"),
            ("claude-cli/2.1.197 (external, sdk-cli)", {"x-app": "cli"}, "claude_code"),
            (
                "codex_exec/0.171.0 (Debian 12.0.0; x86_64) xterm (codex_exec; 0.171.0)",
                {},
                "codex_cli",
            ),
            ("codex_cli_rs/0.50.0 (Mac OS 15.1.0; arm64) iTerm.app/3.5", {}, "codex_cli"),
            ("something/1.0", {"originator": "codex_cli_rs"}, "codex_cli"),
            ("OpenAI/Python 3.57.0", {}, "openai_sdk"),
            ("OpenAI/JS 5.1.0", {}, "openai_sdk"),
            ("Anthropic/Python 2.14.0", {}, "anthropic_sdk"),
            ("Cursor/1.2.3", {}, "cursor"),
            ("OpenAI/Python 1.0", {"X-Cursor-Client-Version": "0.4"}, "cursor"),
            ("aider/0.80.0", {}, "aider"),
            ("curl/8.5.0", {}, "other"),
            ("", {}, "other"),
            (None, None, "other"),
        ],
    )
    def test_families(
        self, user_agent: str | None, headers: dict[str, str] | None, family: str
    ) -> None:
        assert client_family(user_agent, headers) == family
        assert family in CLIENT_FAMILIES

    @pytest.mark.skipif(not RECORDINGS.exists(), reason="recordings not present")
    @pytest.mark.parametrize(
        ("name", "family"),
        [
            ("claude-code-tool.jsonl", "claude_code"),
            ("codex-exec.jsonl", "codex_cli"),
        ],
    )
    def test_recorded_requests(self, name: str, family: str) -> None:
        seen = set()
        for line in (RECORDINGS / name).read_text().splitlines():
            entry = json.loads(line)
            headers = entry.get("headers") or entry.get("request", {}).get("headers") or {}
            if isinstance(headers, list):
                headers = dict(headers)
            if "/v1/" not in str(entry.get("path", entry.get("request", {}).get("path", "/v1/"))):
                continue
            if headers.get("user-agent", "").startswith("Bun/"):
                continue
            seen.add(client_family(headers.get("user-agent"), headers))
        assert seen == {family}


_NAMES = (
    "user-agent",
    "x-app",
    "originator",
    "x-title",
    "http-referer",
    "x-kilocode-version",
    "x-cline-version",
    "x-continue-unique-id",
    "x-cursor-client-version",
    "content-type",
)
_VALUES = (
    "claude-cli/2.1.197 (external, cli)",
    "cli",
    "codex_cli_rs",
    "Cline",
    " Kilo Code ",
    "aider",
    "https://aider.chat",
    "OpenAI/Python 1.54.0",
    "OpenCode/1.0",
    "Cursor/1.2.3",
    "1.0",
    "",
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_NAMES), st.sampled_from(_VALUES)), max_size=6))
def test_the_remembered_family_of_header_pairs_is_client_family(
    pairs: list[tuple[str, str]],
) -> None:
    """What the gateway asks (`client_family_of`, cached) equals `client_family` of the first
    user agent and the headers, whatever the headers."""
    user_agent = next((v for k, v in pairs if k == "user-agent"), None)
    assert client_family_of(pairs) == client_family(user_agent, dict(pairs))
    assert client_family_of(pairs) == client_family(user_agent, dict(pairs))


def test_the_last_referer_counts_as_in_a_dict() -> None:
    pairs = [
        ("user-agent", "OpenAI/Python 1.54.0"),
        ("http-referer", "https://aider.chat"),
        ("http-referer", "https://example.com"),
    ]
    assert client_family_of(pairs) == client_family("OpenAI/Python 1.54.0", dict(pairs))
    assert client_family_of(pairs[:2]) == "aider"
