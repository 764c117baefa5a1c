"""Start-up wiring: unit-of-work event handlers, caches on the change feed, background jobs.

The one place (besides migrations/env.py and the surfaces) that knows every domain. Each domain
exposes `install(runtime)`-style hooks; this module calls them in layer order, low to high.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spectra.db.hub import Hub

# Domains in layer order, low to high. A domain opts in with `<domain>/wiring.py: install(hub: spectra.db.hub.Hub)`.
DOMAINS = ("audit", "users", "workspace", "keys", "pool", "ledger", "packages", "usage", "policy", "gateway")


def register_handlers() -> None:
    """Register every unit-of-work event handler (idempotent). Needed by the CLI and tests too."""
    for name in DOMAINS:
        module = _optional(f"spectra.{name}.handlers")
        if module is not None:
            module.register()


def install(runtime: Hub) -> None:
    register_handlers()
    for name in DOMAINS:
        module = _optional(f"spectra.{name}.wiring")
        if module is not None:
            module.install(runtime)


def _optional(path: str):  # type: ignore[no-untyped-def]
    try:
        return importlib.import_module(path)
    except ModuleNotFoundError as exc:
        if exc.name is None or not path.startswith(exc.name):
            raise
        return None
