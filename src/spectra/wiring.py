"""Start-up wiring: unit-of-work event handlers, caches on the change feed, background jobs.

The one place (besides migrations/env.py and the surfaces) that knows every domain. Each domain
that needs it exposes `<domain>/wiring.py: install(hub: spectra.db.hub.Hub)` (and, for unit-of-work
handlers, `<domain>/handlers.py: register()`); this module lists them and calls them in layer
order, low to high. A new hook is added here by hand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spectra.alerts import handlers as alerts_handlers
from spectra.alerts import wiring as alerts_wiring
from spectra.audit import wiring as audit_wiring
from spectra.gateway import wiring as gateway_wiring
from spectra.keys import wiring as keys_wiring
from spectra.ledger import wiring as ledger_wiring
from spectra.packages import handlers as packages_handlers
from spectra.packages import wiring as packages_wiring
from spectra.policy import wiring as policy_wiring
from spectra.pool import wiring as pool_wiring
from spectra.usage import wiring as usage_wiring
from spectra.users import wiring as users_wiring
from spectra.workspace import wiring as workspace_wiring

if TYPE_CHECKING:
    from spectra.db.hub import Hub

# Unit-of-work handlers, in layer order, low to high.
HANDLERS = (packages_handlers, alerts_handlers)

# Start-up hooks, in layer order, low to high.
INSTALLS = (
    audit_wiring,
    users_wiring,
    workspace_wiring,
    keys_wiring,
    pool_wiring,
    ledger_wiring,
    packages_wiring,
    usage_wiring,
    policy_wiring,
    alerts_wiring,
    gateway_wiring,
)


def register_handlers() -> None:
    """Register every unit-of-work event handler (idempotent). Needed by the CLI and tests too."""
    for module in HANDLERS:
        module.register()


def install(runtime: Hub) -> None:
    register_handlers()
    for module in INSTALLS:
        module.install(runtime)
