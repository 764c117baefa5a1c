"""End-to-end tests that drive real clients (Claude Code, Codex CLI) and servers."""
