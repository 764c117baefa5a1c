#!/usr/bin/env bash
# Install the pinned real AI coding clients (Claude Code, Codex CLI, Qwen Code, Gemini CLI) that
# the e2e tests drive.
#
# Everything comes from the npm registry: Claude Code and Codex ship their native binary in a
# platform-specific optional dependency (@anthropic-ai/claude-code-linux-x64,
# @openai/codex@<v>-linux-x64); Qwen Code and Gemini CLI are JavaScript bundles run by node. Nothing is
# downloaded from anywhere else.
# Idempotent and fast (no npm call) when the pinned versions are already in place.
#
#   SPECTRA_CLIENTS_DIR   install prefix (default: <repo>/.cache/clients)
#
# Bump a version: change the pin below, run this script, run `pytest -m e2e`.
set -euo pipefail

CLAUDE_CODE_VERSION="2.1.332"
CODEX_VERSION="0.171.0"
QWEN_CODE_VERSION="0.24.4"
GEMINI_CLI_VERSION="0.61.0"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="${SPECTRA_CLIENTS_DIR:-$repo_root/.cache/clients}"
mkdir -p "$prefix"
prefix="$(cd "$prefix" && pwd)"
bin="$prefix/node_modules/.bin"

declare -A reported=()

binary_reports() { # <binary> <version> -> success when `<binary> --version` mentions it
    reported[$1]="$("$bin/$1" --version 2>/dev/null)" || return 1
    [[ "${reported[$1]}" == *"$2"* ]]
}

up_to_date() { # running the binaries proves the native parts are in place, not placeholders
    binary_reports claude "$CLAUDE_CODE_VERSION" && binary_reports codex "$CODEX_VERSION" &&
        binary_reports qwen "$QWEN_CODE_VERSION" && binary_reports gemini "$GEMINI_CLI_VERSION"
}

command -v node >/dev/null || { echo "install-clients: node is not on PATH" >&2; exit 1; }
command -v npm >/dev/null || { echo "install-clients: npm is not on PATH" >&2; exit 1; }

# pytest-xdist workers may all call this at once; one installs, the others wait and re-check.
exec 9>"$prefix/.install.lock"
flock 9

if ! up_to_date; then
    started=$SECONDS
    # --include=optional: the native binaries live in optional dependencies, and an
    # npmrc or NODE_ENV that omits them would leave only placeholders behind.
    npm install --prefix "$prefix" --no-save --no-audit --no-fund --no-package-lock \
        --include=optional --loglevel=error --update-notifier=false \
        "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION" "@openai/codex@$CODEX_VERSION" \
        "@qwen-code/qwen-code@$QWEN_CODE_VERSION" "@google/gemini-cli@$GEMINI_CLI_VERSION" >&2
    # Claude Code's postinstall (install.cjs) puts the native binary over the bin/claude.exe
    # placeholder. npm versions that hold back install scripts skip it, so run it ourselves.
    if ! binary_reports claude "$CLAUDE_CODE_VERSION"; then
        (cd "$prefix/node_modules/@anthropic-ai/claude-code" && node install.cjs >&2)
    fi
    if ! up_to_date; then
        echo "install-clients: installed, but the binaries do not report the pinned versions" >&2
        "$bin/claude" --version >&2 || true
        "$bin/codex" --version >&2 || true
        "$bin/qwen" --version >&2 || true
        "$bin/gemini" --version >&2 || true
        exit 1
    fi
    echo "install-clients: installed into $prefix in $((SECONDS - started))s" >&2
fi

echo "claude: ${reported[claude]} ($bin/claude)"
echo "codex: ${reported[codex]} ($bin/codex)"
echo "qwen: ${reported[qwen]} ($bin/qwen)"
echo "gemini: ${reported[gemini]} ($bin/gemini)"
