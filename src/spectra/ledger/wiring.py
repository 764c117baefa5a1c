"""Start-up wiring: the balance view (in-process, or in Redis when several processes share one
database; fed by the change feed, its expired holds swept), the code-redemption limits (in
Redis too when it is set) and the low-balance webhook dispatcher (kicked after commit, retried
by a job), which also carries the audit chain's anchors and breaks (`audit.anchor`, `audit.broken`)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from spectra.audit import anchors as audit_anchors
from spectra.db.hub import Hub
from spectra.kit.clock import utc_now
from spectra.ledger import ratelimit, webhooks
from spectra.ledger.holds import BalanceView, InProcessBalanceView
from spectra.ledger.holds_lease import LeasedBalanceView
from spectra.ledger.holds_redis import RedisBalanceView
from spectra.ledger.jobs import webhook_job
from spectra.ledger.service.post import BALANCE_CHANGE

HOLD_SWEEP_SECONDS = 5.0
WEBHOOK_RETRY_SECONDS = 5.0

log = logging.getLogger(__name__)

_view: BalanceView | None = None


def balance_view() -> BalanceView:
    """This process's balance view (the gateway reserves, settles and releases through it)."""
    if _view is None:
        raise RuntimeError("The ledger is not wired into a running process.")
    return _view


def install(hub: Hub) -> None:
    global _view
    view: BalanceView
    if hub.redis is not None:
        shared = LeasedBalanceView(hub.db, hub.redis)
        view = shared
        hub.jobs.register("ledger.holds.expire", HOLD_SWEEP_SECONDS, _sweep(shared))
    else:
        view = InProcessBalanceView(hub.db)
    _view = view

    def webhook_url() -> str | None:
        from spectra.workspace.cache import settings_cache

        return settings_cache.current.webhook_url

    dispatcher = webhooks.WebhookDispatcher(db=hub.db, key=hub.keys.webhook_key, url_of=webhook_url)
    webhooks.install(dispatcher)

    async def post_audit_event(event: str, body: dict[str, Any]) -> None:
        at = utc_now().isoformat()
        await dispatcher.send_once(event, {"id": f"{event}-{at}", "event": event, **body})

    audit_anchors.add_sink("webhook", post_audit_event)

    limiter = ratelimit.RedisRedeemLimiter(hub.redis) if hub.redis is not None else None

    async def start() -> None:
        await view.start(sweep_every=None if hub.redis is not None else HOLD_SWEEP_SECONDS)
        if limiter is not None:
            ratelimit.use(limiter)

    async def stop() -> None:
        if limiter is not None:
            ratelimit.use(None)
        await view.stop()
        await dispatcher.wait_idle()

    hub.on_start.append(start)
    hub.on_stop.append(stop)
    hub.feed.subscribe(BALANCE_CHANGE, view.on_changes)
    hub.jobs.register("ledger.webhooks", WEBHOOK_RETRY_SECONDS, webhook_job(dispatcher))


def _sweep(view: RedisBalanceView) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        released = await view.release_expired()
        if released:
            log.info("released %d expired holds", released)

    return run
