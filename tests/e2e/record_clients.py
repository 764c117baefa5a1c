"""Record what the pinned real clients send: one tool-call turn each against the fake upstream
in the client's own protocol, written to tests/fixtures/client-recordings/current/.

    .venv/bin/python -m tests.e2e.record_clients [OUTDIR [STEM]]

(STEM, e.g. `gemini-cli-tool`, records that client alone.)

Unlike the older recordings beside it, bodies are kept whole (tool schemas included), so the
translation tests read exactly what the clients send. Cut: credentials (headers keep their first
characters), and the temporary HOME and work directory (rewritten to /home/dev/...). Run it again
after bumping a pin in scripts/install-clients.sh.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.fakes.gemini import FakeGemini
from tests.fakes.upstream import FakeUpstream, RecordedRequest, Reply, ToolCall

from . import clients
from .conftest import TOOL_COMMAND

OUT = Path(__file__).parents[1] / "fixtures" / "client-recordings" / "current"
KEY = "sk-recording-0123456789abcdef"
CODEX_DEFAULT_MODEL = "gpt-6.2-sol"
SECRET_HEADERS = ("authorization", "x-api-key", "x-goog-api-key", "cookie", "proxy-authorization")
_TEMP = re.compile(r"/tmp/(?:pytest-of-\w+/)?[\w.-]*?(spectra-\w+-home-|record-work-)\w+")
_SLUG = re.compile(r"-tmp-record-work-\w+")
_DROP_HEADERS = ("host", "content-length")


def _cut(name: str, value: str) -> str:
    if name.lower() in SECRET_HEADERS:
        return value[: value.index(" ") + 4 if " " in value else 3] + "…"
    return value


def _scrub(text: str) -> str:
    text = _SLUG.sub("-home-dev-project", text)
    return _TEMP.sub(lambda m: "/home/dev" if "home" in m.group(1) else "/home/dev/project", text)


def _record(client: str, version: str, n: int, request: RecordedRequest) -> dict[str, Any]:
    try:
        body: Any = json.loads(_scrub(request.body.decode()))
    except (ValueError, UnicodeDecodeError):
        body = None
    entry = _entry(client, version, n, request.method, request.path, request.query, request.headers)
    return entry | {"body": body}


def _entry(
    client: str,
    version: str,
    n: int,
    method: str,
    path: str,
    query: str,
    headers: list[tuple[str, str]],
) -> dict[str, Any]:
    return {
        "n": n,
        "client": client,
        "version": version,
        "method": method,
        "path": path,
        "query": query,
        "headers": {
            k.lower(): _scrub(_cut(k, v)) for k, v in headers if k.lower() not in _DROP_HEADERS
        },
    }


Runner = Callable[[str, Path], clients.ClientResult]


async def _one(name: str, version: str, call: ToolCall, run: Runner) -> list[dict[str, Any]]:
    async with FakeUpstream(api_key=KEY) as fake:
        fake.script(Reply(text="", tool_call=call), Reply(text="recorded"))
        with tempfile.TemporaryDirectory(prefix="record-work-") as work:
            result = await asyncio.to_thread(run, fake.url, Path(work))
        if result.returncode != 0 or result.final_text != "recorded":
            raise SystemExit(f"{name}: the run failed\n{result.describe()}")
        return [_record(name, version, n, r) for n, r in enumerate(fake.requests)]


async def _one_gemini(version: str, call: ToolCall) -> list[dict[str, Any]]:
    """Gemini CLI against the fake Gemini API (its requests are (path, query, headers, body))."""
    async with FakeGemini(api_key=KEY) as fake:
        fake.script.extend([Reply(text="", tool_call=call), Reply(text="recorded")])
        with tempfile.TemporaryDirectory(prefix="record-work-") as work:
            result = await asyncio.to_thread(
                clients.run_gemini_cli,
                fake.url,
                KEY,
                "run the test command",
                model="gemini-2.5-flash",
                workdir=Path(work),
            )
        if result.returncode != 0 or result.final_text != "recorded":
            raise SystemExit(f"gemini-cli: the run failed\n{result.describe()}")
        return [
            _entry("gemini_cli", version, n, "POST", path, query, list(headers.items()))
            | {"body": json.loads(_scrub(json.dumps(body)))}
            for n, (path, query, headers, body) in enumerate(fake.requests)
        ]


def _versions() -> dict[str, str]:
    report = clients.ensure_clients()
    found = dict(re.findall(r"^(\w+): (\S+)", report, re.M))
    found["codex"] = report.split("codex-cli ")[1].split()[0]
    return found


async def _record_all(
    versions: dict[str, str], only: str | None = None
) -> dict[str, list[dict[str, Any]]]:
    bash = ToolCall(name="Bash", arguments={"command": TOOL_COMMAND, "description": "run it"})
    runs: dict[str, tuple[str, str, ToolCall, Runner]] = {
        "claude-code-tool": (
            "claude_code",
            versions["claude"],
            bash,
            lambda url, work: clients.run_claude_code(
                url, KEY, "run the test command", workdir=work
            ),
        ),
        "codex-exec-tool": (
            "codex_cli",
            versions["codex"],
            ToolCall(name="exec_command", arguments={"cmd": TOOL_COMMAND}, call_id="call_rec01"),
            lambda url, work: clients.run_codex(
                url, KEY, "run the test command", model="gpt-5-codex", workdir=work
            ),
        ),
        # Codex's default model puts it on the "responses lite" wire: no top-level `tools`, an
        # `additional_tools` developer item (namespaced tools, the custom `exec`), the
        # `x-openai-internal-codex-responses-lite` header. (The fake calls `exec_command`
        # directly, which Codex still runs.)
        "codex-exec-lite-tool": (
            "codex_cli",
            versions["codex"],
            ToolCall(name="exec_command", arguments={"cmd": TOOL_COMMAND}, call_id="call_rec02"),
            lambda url, work: clients.run_codex(
                url, KEY, "run the test command", model=CODEX_DEFAULT_MODEL, workdir=work
            ),
        ),
        # The same through the built-in provider with `openai_base_url` moved: adds a
        # `configuration_update` input item (after WebSocket attempts the fake refuses).
        "codex-exec-builtin-tool": (
            "codex_cli",
            versions["codex"],
            ToolCall(name="exec_command", arguments={"cmd": TOOL_COMMAND}, call_id="call_rec03"),
            lambda url, work: clients.run_codex(
                url,
                KEY,
                "run the test command",
                model=CODEX_DEFAULT_MODEL,
                workdir=work,
                builtin_provider=True,
            ),
        ),
        "qwen-code-tool": (
            "qwen_code",
            versions["qwen"],
            ToolCall(
                name="run_shell_command", arguments={"command": TOOL_COMMAND}, call_id="call_rec04"
            ),
            lambda url, work: clients.run_qwen_code(
                url, KEY, "run the test command", model="qwen3-coder-plus", workdir=work
            ),
        ),
    }
    recorded = {stem: await _one(*run) for stem, run in runs.items() if only in (None, stem)}
    if only in (None, "gemini-cli-tool"):
        shell = ToolCall(
            name="run_shell_command", arguments={"command": TOOL_COMMAND}, call_id="call_rec05"
        )
        recorded["gemini-cli-tool"] = await _one_gemini(versions["gemini"], shell)
    return recorded


def main(out: Path, only: str | None = None) -> None:
    """Record every client (or, with `only`, the recording of that stem alone)."""
    recorded = asyncio.run(_record_all(_versions(), only))
    out.mkdir(parents=True, exist_ok=True)
    for stem, records in recorded.items():
        path = out / f"{stem}.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        sys.stdout.write(f"{path}: {len(records)} requests ({records[0]['client']})\n")


if __name__ == "__main__":
    main(
        Path(sys.argv[1]) if len(sys.argv) > 1 else OUT, sys.argv[2] if len(sys.argv) > 2 else None
    )
