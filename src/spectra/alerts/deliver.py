"""The outbox's delivery job: claim due deliveries, send each once, keep the outcome.

A claim is a short transaction that moves the row's `next_attempt_at` forward (a conditional
UPDATE; on PostgreSQL the rows are first picked with SKIP LOCKED, so concurrent processes take
different rows). The send happens outside any transaction; the outcome is written after. A
process that dies between claim and outcome leaves the claim to lapse, and the row is tried
again: nothing is lost. Failures back off exponentially up to `max_attempts`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import aiohttp

from spectra.alerts import repository as repo
from spectra.alerts import service
from spectra.alerts.channels import (
    DeliveryFailedError,
    SmtpConfig,
    post_json,
    send_email,
    send_webhook,
    slack_payload,
    teams_payload,
)
from spectra.alerts.models import Alert, AlertChannel, AlertDelivery, DeliveryStatus
from spectra.db.session import Database, session_scope
from spectra.kit.clock import utc_now
from spectra.workspace import service as workspace_service
from spectra.workspace.schemas import WorkspaceSettings

log = logging.getLogger(__name__)

CLAIM_SECONDS = 120.0


def smtp_config(
    settings: WorkspaceSettings, fallback_password: str | None = None
) -> SmtpConfig | None:
    """The SMTP settings, or None when mail is not configured. The password is the sealed
    workspace setting, else the deployment's `SPECTRA_SMTP_PASSWORD` (`fallback_password`)."""
    if not settings.smtp_host or not settings.smtp_from:
        return None
    password = workspace_service.open_secret("smtp_password", settings.smtp_password)
    if password is None:
        password = fallback_password
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_from,
        username=settings.smtp_username,
        password=password if settings.smtp_username else None,
        starttls=settings.smtp_starttls,
    )


@dataclass
class Deliverer:
    db: Database
    webhook_key: bytes
    settings_of: Callable[[], WorkspaceSettings]
    fallback_password: str | None = None
    max_attempts: int = 8
    backoff_base: float = 2.0
    backoff_cap: float = 3600.0
    timeout: float = 10.0
    batch: int = 50
    _task: asyncio.Task[int] | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def kick(self) -> None:
        """Deliver due rows in the background (after the commit that wrote them)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self.deliver_due(), name="alerts-deliver"
            )

    async def wait_idle(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)

    async def deliver_due(self) -> int:
        """Claim and send every due delivery once; returns how many were delivered."""
        async with self._lock:
            delivered = 0
            while True:
                claimed = await self._claim()
                if not claimed:
                    return delivered
                delivered += await self._send_all(claimed)

    async def _claim(self) -> list[uuid.UUID]:
        now = utc_now()
        until = now + timedelta(seconds=CLAIM_SECONDS)
        async with session_scope(self.db) as session:
            ids = await repo.due_delivery_ids(session, now=now, limit=self.batch)
            return [i for i in ids if await repo.claim(session, i, now=now, until=until)]

    async def _send_all(self, ids: list[uuid.UUID]) -> int:
        settings = self.settings_of()
        smtp = smtp_config(settings, self.fallback_password)
        async with session_scope(self.db) as session:
            rows = await repo.deliveries_with_alerts(session, ids)
            session.expunge_all()
        outcomes: dict[uuid.UUID, str | None] = {}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as http:
            for delivery, alert, channel in rows:
                try:
                    await self._send_one(http, smtp, delivery, alert, channel)
                    outcomes[delivery.id] = None
                except DeliveryFailedError as exc:
                    outcomes[delivery.id] = str(exc)
                except Exception as exc:
                    log.exception("alert delivery %s failed", delivery.id)
                    outcomes[delivery.id] = f"{type(exc).__name__}"
        delivered = 0
        async with session_scope(self.db) as session:
            for delivery_id, error in outcomes.items():
                row = await session.get(AlertDelivery, delivery_id)
                if row is None:
                    continue
                row.attempts += 1
                if error is None:
                    row.status = DeliveryStatus.DELIVERED
                    row.delivered_at = utc_now()
                    row.last_error = None
                    delivered += 1
                elif row.attempts >= self.max_attempts:
                    row.status = DeliveryStatus.FAILED
                    row.last_error = error[:500]
                else:
                    delay = min(self.backoff_cap, self.backoff_base * 2 ** (row.attempts - 1))
                    row.next_attempt_at = utc_now() + timedelta(seconds=delay)
                    row.last_error = error[:500]
        return delivered

    async def _send_one(
        self,
        http: aiohttp.ClientSession,
        smtp: SmtpConfig | None,
        delivery: AlertDelivery,
        alert: Alert | None,
        channel: AlertChannel | None,
    ) -> None:
        if channel is None:
            if delivery.recipient is None:
                raise DeliveryFailedError("The channel was removed.")
            body = service.delivery_body(delivery)
            await send_email(smtp, delivery.recipient, delivery.subject, body)
            return
        target = service.unseal_target(channel)
        if channel.kind == "email":
            await send_email(smtp, target, delivery.subject, delivery.body)
        elif channel.kind == "slack":
            await post_json(http, target, slack_payload(delivery), {})
        elif channel.kind == "teams":
            await post_json(http, target, teams_payload(delivery), {})
        else:
            await send_webhook(http, target, self.webhook_key, delivery, alert)


_deliverer: Deliverer | None = None


def install(deliverer: Deliverer | None) -> None:
    global _deliverer
    _deliverer = deliverer
    service.on_outbox_write(deliverer.kick if deliverer is not None else None)


def current() -> Deliverer | None:
    return _deliverer
