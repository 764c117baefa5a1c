"""LiteLLM's proxy as a peer target of the benchmark, in its lightest mode: one worker, no
database, a config file and a master key, pointed at the bench's fake upstream.

LiteLLM is not a dependency of Spectra: the bench installs `litellm[proxy]` from PyPI into a
virtualenv of its own, once, under a stable cache path (BENCH_LITELLM_VENV, default
~/.cache/spectra-bench/litellm-venv), and reuses it on later runs. BENCH_LITELLM=0 skips it; an
install that fails is reported and the target skipped, the rest of the bench goes on.

    python -m bench.peer_litellm --upstream http://127.0.0.1:PORT    # prints LITELLM_URL=...
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

from bench import procs

VENV = Path(
    os.environ.get("BENCH_LITELLM_VENV")
    or Path.home() / ".cache" / "spectra-bench" / "litellm-venv"
)
REQUIREMENT = os.environ.get("BENCH_LITELLM_REQUIREMENT", "litellm[proxy]")
_DONE = ".spectra-bench-installed"
"""Written last: a virtualenv without it is a broken or interrupted install, made again."""

UPSTREAM_KEY = "sk-bench-upstream"
OPENAI_MODEL = "bench-gpt"
ANTHROPIC_MODEL = "bench-claude"


def enabled() -> bool:
    return os.environ.get("BENCH_LITELLM") != "0"


def python() -> Path:
    return VENV / "bin" / "python"


def ensure_installed(log: Path) -> str | None:
    """Install LiteLLM's proxy into VENV unless already there. None when ready, else why not."""
    if (VENV / _DONE).exists() and python().exists():
        return None
    if VENV.exists():
        shutil.rmtree(VENV)
    VENV.parent.mkdir(parents=True, exist_ok=True)
    print(f"installing {REQUIREMENT} into {VENV} (once; log: {log})", flush=True)
    with log.open("w") as out:
        try:
            subprocess.run(
                [sys.executable, "-m", "venv", str(VENV)], check=True, stdout=out, stderr=out
            )
            for args in (
                ["install", "-q", "--upgrade", "pip"],
                ["install", "-q", REQUIREMENT],
            ):
                subprocess.run(
                    [str(python()), "-m", "pip", *args],
                    check=True,
                    stdout=out,
                    stderr=out,
                    timeout=1800,
                )
        except (OSError, subprocess.SubprocessError) as exc:
            return f"installing {REQUIREMENT} failed ({type(exc).__name__}; see {log})"
    (VENV / _DONE).write_text(REQUIREMENT + "\n")
    return None


def config_text(upstream: str, master_key: str) -> str:
    """The proxy's config: the OpenAI-compatible model and the Anthropic model both on the fake
    upstream, with the upstream key Spectra's pool accounts use. Written as JSON, which YAML
    (what LiteLLM reads) includes: no quoting surprises."""
    base = upstream.rstrip("/")
    config = {
        "model_list": [
            {
                "model_name": OPENAI_MODEL,
                "litellm_params": {
                    "model": f"openai/{OPENAI_MODEL}",
                    "api_base": f"{base}/v1",
                    "api_key": UPSTREAM_KEY,
                },
            },
            {
                "model_name": ANTHROPIC_MODEL,
                "litellm_params": {
                    "model": f"anthropic/{ANTHROPIC_MODEL}",
                    "api_base": base,
                    "api_key": UPSTREAM_KEY,
                },
            },
        ],
        "general_settings": {"master_key": master_key},
        "litellm_settings": {"telemetry": False, "turn_off_message_logging": True},
    }
    return json.dumps(config, indent=2) + "\n"


def environment() -> dict[str, str]:
    """No network at start-up (the bundled price map, no telemetry), no admin UI, quiet logs,
    and none of Spectra's or a database's variables."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SPECTRA_", "DATABASE_", "REDIS_", "PYTHON", "VIRTUAL_ENV"))
    }
    env.update(
        {
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_TELEMETRY": "False",
            "LITELLM_LOG": "ERROR",
            "DISABLE_ADMIN_UI": "True",
            "NO_DOCS": "True",
        }
    )
    return env


def start(upstream: str, scratch: Path, port: int) -> tuple[procs.Child, str]:
    """Start the proxy (uvicorn, one worker, no database); (child, master key)."""
    master_key = "sk-" + secrets.token_urlsafe(24)
    config = scratch / "litellm.yaml"
    config.write_text(config_text(upstream, master_key))
    log = scratch / "litellm.log"
    proc = subprocess.Popen(
        [
            str(python()),
            "-m",
            "litellm.proxy.proxy_cli",
            "--config",
            str(config),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--num_workers",
            "1",
        ],
        cwd=scratch,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
        env=environment(),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        procs.wait_listening(url, proc, timeout=180)
    except RuntimeError:
        proc.kill()
        proc.wait(5)
        raise
    return procs.Child("litellm", proc, url), master_key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    scratch = Path.cwd()
    why = ensure_installed(scratch / "litellm-install.log")
    if why:
        sys.exit(why)
    child, key = start(args.upstream, scratch, args.port or procs.free_port())
    print(f"LITELLM_URL={child.url} key={key}", flush=True)
    try:
        child.proc.wait()
    finally:
        child.stop()


if __name__ == "__main__":
    main()
