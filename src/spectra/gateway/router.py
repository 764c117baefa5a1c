"""Mount the gateway's routes under /v1 (plain Starlette routes on the hot path)."""

from __future__ import annotations

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    """Add the gateway's endpoints to `app` (none yet: the gateway issue fills this in)."""
