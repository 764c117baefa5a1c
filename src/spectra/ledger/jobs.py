"""Ledger background work: webhook delivery retries (a leased job, one process at a time)."""

from __future__ import annotations

from spectra.ledger.webhooks import WebhookDispatcher


def webhook_job(dispatcher: WebhookDispatcher):  # type: ignore[no-untyped-def]
    async def run() -> None:
        await dispatcher.deliver_due()

    return run
