"""Run the real Claude Code, Codex CLI, Qwen Code and Gemini CLI binaries for one non-interactive
turn, offline.

Each run gets a fresh HOME (and CODEX_HOME), an environment built from an allowlist (no keys,
proxies or config leak in from the host) and a hard timeout that kills the whole process group.
The binaries come from scripts/install-clients.sh; see tests/e2e/README.md for what each client
sends and needs.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install-clients.sh"

CLAUDE_QUIET_ENV = {
    "DISABLE_TELEMETRY": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_ERROR_REPORTING": "1",
}
"""Keeps Claude Code from calling anything but the base URL."""

DEFAULT_CLAUDE_TOOLS = ("Bash",)
"""Pre-approved so a Bash call runs without a prompt. Running as root, Claude Code refuses
--dangerously-skip-permissions and --permission-mode bypassPermissions, so we allow tools by name."""

_INHERITED_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "CI", "SSL_CERT_FILE")


class ClientTimeoutError(AssertionError):
    """The client did not finish in time; it and its children were killed."""

    def __init__(self, result: ClientResult) -> None:
        super().__init__(f"timed out after {result.duration:.1f}s\n{result.describe()}")
        self.result = result


@dataclass(frozen=True)
class ClientResult:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    duration: float
    """Wall-clock seconds from spawn to exit."""
    final_text: str | None
    """The last assistant text: Claude Code's `result` field, Codex's last agent message."""
    events: list[Any] = field(default_factory=list)
    """Parsed structured output: Claude Code's one result object, or Codex's JSONL events."""

    def describe(self) -> str:
        """A summary for assertion messages: command, exit code and the ends of both streams."""
        return (
            f"$ {' '.join(self.argv)}\nexit {self.returncode} in {self.duration:.2f}s\n"
            f"final_text: {self.final_text!r}\n"
            f"--- stdout (tail) ---\n{self.stdout[-3000:]}\n"
            f"--- stderr (tail) ---\n{self.stderr[-3000:]}"
        )


def clients_dir() -> Path:
    return Path(os.environ.get("SPECTRA_CLIENTS_DIR") or REPO_ROOT / ".cache" / "clients")


def claude_bin() -> Path:
    return clients_dir() / "node_modules" / ".bin" / "claude"


def codex_bin() -> Path:
    return clients_dir() / "node_modules" / ".bin" / "codex"


def qwen_bin() -> Path:
    return clients_dir() / "node_modules" / ".bin" / "qwen"


def gemini_bin() -> Path:
    return clients_dir() / "node_modules" / ".bin" / "gemini"


def clients_available() -> bool:
    """Whether the binaries are installed (any version; ensure_clients() pins them)."""
    binaries = (claude_bin(), codex_bin(), qwen_bin(), gemini_bin())
    return all(os.access(path, os.X_OK) for path in binaries)


def ensure_clients(timeout: float = 600) -> str:
    """Install the pinned clients unless present and return the script's version report.

    Always runs the script: it takes well under a second when the pinned versions are in place,
    and it is the one place that knows the pins, so a bumped pin reinstalls. Raises
    subprocess.CalledProcessError (with the npm output) when installing fails.
    """
    done = subprocess.run(
        ["bash", str(INSTALL_SCRIPT)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise subprocess.CalledProcessError(
            done.returncode, done.args, output=done.stdout, stderr=done.stderr
        )
    return done.stdout


def run_claude_code(
    base_url: str,
    api_key: str,
    prompt: str,
    *,
    model: str | None = None,
    workdir: Path,
    timeout: float = 120,
    auth_token: bool = False,
    allowed_tools: list[str] | None = None,
    extra_args: Sequence[str] = (),
    extra_env: Mapping[str, str] | None = None,
) -> ClientResult:
    """Run `claude -p PROMPT --output-format json` once against `base_url` (the server root).

    The key goes in ANTHROPIC_API_KEY (sent as x-api-key) or, with `auth_token`, in
    ANTHROPIC_AUTH_TOKEN (sent as Authorization: Bearer). `allowed_tools=None` pre-approves
    Bash; pass [] to approve nothing (a denied call still exits 0, with an is_error tool_result).
    """
    argv = [str(claude_bin()), "-p", prompt, "--output-format", "json"]
    if model is not None:
        argv += ["--model", model]
    tools = DEFAULT_CLAUDE_TOOLS if allowed_tools is None else tuple(allowed_tools)
    if tools:
        argv += ["--allowedTools", ",".join(tools)]
    argv += list(extra_args)
    with tempfile.TemporaryDirectory(prefix="spectra-claude-home-") as home:
        env = _base_env(home) | CLAUDE_QUIET_ENV | {"ANTHROPIC_BASE_URL": base_url}
        env["ANTHROPIC_AUTH_TOKEN" if auth_token else "ANTHROPIC_API_KEY"] = api_key
        env |= extra_env or {}
        result = _run(argv, env=env, cwd=workdir, timeout=timeout)
    events, final_text = _parse_claude_output(result.stdout)
    return replace(result, final_text=final_text, events=events)


def run_codex(
    base_url: str,
    api_key: str,
    prompt: str,
    *,
    model: str,
    workdir: Path,
    timeout: float = 120,
    extra_args: Sequence[str] = (),
    extra_env: Mapping[str, str] | None = None,
    extra_config: str = "",
    builtin_provider: bool = False,
) -> ClientResult:
    """Run `codex exec --json` once against `base_url` through a custom Responses provider.

    With `builtin_provider`, Codex keeps its built-in `openai` provider with `openai_base_url`
    moved to `base_url` and the key in OPENAI_API_KEY / CODEX_API_KEY: it then speaks its
    "responses lite" wire (tools in an `additional_tools` input item, header
    `x-openai-internal-codex-responses-lite`) after trying WebSocket upgrades on
    `GET /v1/responses`.

    `base_url` is the server root or already ends in /v1 (Codex appends /responses to the
    provider's base_url). The key travels in SPECTRA_API_KEY and is sent as Authorization:
    Bearer. Commands run with approvals and sandbox bypassed: Codex's own sandbox (bubblewrap,
    landlock, seccomp) depends on the container's kernel settings, and CI is the sandbox.
    `extra_config` is appended to config.toml as-is.
    """
    provider_url = _v1(base_url)
    with tempfile.TemporaryDirectory(prefix="spectra-codex-home-") as home:
        codex_home = Path(home) / ".codex"
        codex_home.mkdir()
        config = (
            _codex_builtin_config(provider_url) if builtin_provider else _codex_config(provider_url)
        )
        (codex_home / "config.toml").write_text(config + extra_config)
        last_message = Path(home) / "last-message.txt"
        argv = [
            str(codex_bin()),
            "exec",
            "--skip-git-repo-check",
            "--json",
            "--color",
            "never",
            "--dangerously-bypass-approvals-and-sandbox",
            "--model",
            model,
            "--cd",
            str(workdir),
            "--output-last-message",
            str(last_message),
            *extra_args,
            prompt,
        ]
        env = _base_env(home) | {"CODEX_HOME": str(codex_home), "SPECTRA_API_KEY": api_key}
        if builtin_provider:
            env |= {"OPENAI_API_KEY": api_key, "CODEX_API_KEY": api_key}
        env |= extra_env or {}
        result = _run(argv, env=env, cwd=workdir, timeout=timeout)
        final_text = last_message.read_text() if last_message.exists() else None
    events = _parse_jsonl(result.stdout)
    if final_text is None:
        final_text = _last_codex_agent_message(events)
    return replace(result, final_text=final_text, events=events)


QWEN_SETTINGS = {
    # Otherwise a background "memory extractor" request follows every turn.
    "memory": {"enableManagedAutoMemory": False, "enableManagedAutoDream": False},
    "telemetry": {"enabled": False},
    "privacy": {"usageStatisticsEnabled": False},
}


def run_qwen_code(
    base_url: str,
    api_key: str,
    prompt: str,
    *,
    model: str,
    workdir: Path,
    timeout: float = 120,
    extra_args: Sequence[str] = (),
    extra_env: Mapping[str, str] | None = None,
) -> ClientResult:
    """Run `qwen PROMPT --output-format json --auth-type openai --yolo` once against `base_url`.

    Qwen Code speaks OpenAI Chat Completions (streamed, `stream_options.include_usage`) to
    OPENAI_BASE_URL (`base_url` + /v1) with OPENAI_API_KEY as Bearer. `--yolo` approves its
    shell tool (`run_shell_command`, input `{"command": str}`); settings in a fresh HOME turn off
    its background memory requests and usage statistics.
    """
    provider_url = _v1(base_url)
    argv = [
        str(qwen_bin()),
        prompt,
        "--output-format",
        "json",
        "--auth-type",
        "openai",
        "--yolo",
        *extra_args,
    ]
    with tempfile.TemporaryDirectory(prefix="spectra-qwen-home-") as home:
        (Path(home) / ".qwen").mkdir()
        (Path(home) / ".qwen" / "settings.json").write_text(json.dumps(QWEN_SETTINGS))
        env = _base_env(home) | {
            "OPENAI_BASE_URL": provider_url,
            "OPENAI_API_KEY": api_key,
            "OPENAI_MODEL": model,
            "QWEN_CODE_SUPPRESS_YOLO_WARNING": "1",
        }
        env |= extra_env or {}
        result = _run(argv, env=env, cwd=workdir, timeout=timeout)
    events = _parse_json_list(result.stdout)
    final = next((e for e in reversed(events) if e.get("type") == "result"), None)
    text = final.get("result") if final is not None else None
    return replace(result, final_text=text if isinstance(text, str) else None, events=events)


GEMINI_SETTINGS = {
    "privacy": {"usageStatisticsEnabled": False},
    "telemetry": {"enabled": False},
    "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
    "security": {"auth": {"selectedType": "gemini-api-key"}},
}
"""No usage statistics (Clearcut), telemetry or update check: nothing but the base URL is called."""


def run_gemini_cli(
    base_url: str,
    api_key: str,
    prompt: str,
    *,
    model: str,
    workdir: Path,
    timeout: float = 120,
    extra_args: Sequence[str] = (),
    extra_env: Mapping[str, str] | None = None,
) -> ClientResult:
    """Run `gemini -p PROMPT --output-format json --yolo --skip-trust -m MODEL` once.

    Gemini CLI speaks the Gemini API (`streamGenerateContent?alt=sse` through its bundled
    google-genai) to GOOGLE_GEMINI_BASE_URL (the server root) with GEMINI_API_KEY sent as
    `x-goog-api-key`. `--yolo` approves its shell tool (`run_shell_command`, input
    `{"command": str}`); `--skip-trust` because a headless run in an untrusted folder would
    drop back to asking for approval; settings in a fresh HOME turn off statistics and updates.
    """
    argv = [
        str(gemini_bin()),
        "-p",
        prompt,
        "--output-format",
        "json",
        "--yolo",
        "--skip-trust",
        "-m",
        model,
        *extra_args,
    ]
    with tempfile.TemporaryDirectory(prefix="spectra-gemini-home-") as home:
        (Path(home) / ".gemini").mkdir()
        (Path(home) / ".gemini" / "settings.json").write_text(json.dumps(GEMINI_SETTINGS))
        env = _base_env(home) | {"GOOGLE_GEMINI_BASE_URL": base_url, "GEMINI_API_KEY": api_key}
        env |= extra_env or {}
        result = _run(argv, env=env, cwd=workdir, timeout=timeout)
    try:
        output = json.loads(result.stdout)
    except ValueError:
        output = None
    text = output.get("response") if isinstance(output, dict) else None
    events = [output] if isinstance(output, dict) else []
    return replace(result, final_text=text if isinstance(text, str) else None, events=events)


def _v1(base_url: str) -> str:
    """The server root (or a URL already ending in /v1) as the OpenAI-style base URL."""
    url = base_url.rstrip("/")
    return url if url.endswith("/v1") else url + "/v1"


def _codex_config(provider_url: str) -> str:
    return (
        'model_provider = "spectra"\n'
        "check_for_update_on_startup = false\n"
        "\n"
        "[model_providers.spectra]\n"
        'name = "Spectra"\n'
        f"base_url = {json.dumps(provider_url)}\n"
        'env_key = "SPECTRA_API_KEY"\n'
        'wire_api = "responses"\n'
        "\n" + _CODEX_QUIET
    )


def _codex_builtin_config(provider_url: str) -> str:
    return (
        f"openai_base_url = {json.dumps(provider_url)}\n"
        "check_for_update_on_startup = false\n"
        "\n" + _CODEX_QUIET
    )


_CODEX_QUIET = (
    "[analytics]\n"
    "enabled = false\n"
    "\n"
    # Otherwise Codex syncs its plugin marketplace in the background (git fetch of
    # github.com/openai/plugins, api.github.com): network traffic a hermetic run must not make.
    "[features]\n"
    "plugins = false\n"
    "remote_plugin = false\n"
)


def _base_env(home: str) -> dict[str, str]:
    env = {name: os.environ[name] for name in _INHERITED_ENV if name in os.environ}
    env["HOME"] = home
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def _run(argv: list[str], *, env: dict[str, str], cwd: Path, timeout: float) -> ClientResult:
    started = time.monotonic()
    # A new session makes the client the leader of its own process group, so a timeout can
    # kill the tool subprocesses it spawned as well.
    with subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        timed_out = False
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(process)
            stdout, stderr = process.communicate()
        finally:
            # Also on success: tools the client left running must not outlive the run.
            _kill_group(process)
    result = ClientResult(
        argv=argv,
        returncode=process.returncode,
        stdout=stdout,
        stderr=stderr,
        duration=time.monotonic() - started,
        final_text=None,
    )
    if timed_out:
        raise ClientTimeoutError(result)
    return result


def _kill_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _parse_claude_output(stdout: str) -> tuple[list[Any], str | None]:
    for line in reversed(stdout.strip().splitlines()):
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and obj.get("type") == "result":
            text = obj.get("result")
            return [obj], text if isinstance(text, str) else None
    return [], None


def _parse_json_list(stdout: str) -> list[dict[str, Any]]:
    """Qwen Code's `--output-format json`: one JSON array of message objects."""
    try:
        parsed = json.loads(stdout)
    except ValueError:
        return []
    return [e for e in parsed if isinstance(e, dict)] if isinstance(parsed, list) else []


def _parse_jsonl(stdout: str) -> list[Any]:
    events: list[Any] = []
    for line in stdout.splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events


def _last_codex_agent_message(events: list[Any]) -> str | None:
    for event in reversed(events):
        item = event.get("item") if isinstance(event, dict) else None
        if isinstance(item, dict) and item.get("type") == "agent_message":
            text = item.get("text")
            return text if isinstance(text, str) else None
    return None
