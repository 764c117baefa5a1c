"""Member API keys (the gateway's callers) and admin API tokens (the REST API and `--server` CLI)."""
