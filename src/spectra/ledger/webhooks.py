"""Low-balance webhooks: an HMAC-signed JSON POST per notice, retried with exponential backoff.

Signature header `X-Spectra-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`
under the server's webhook subkey. Delivery never blocks the writer: the posting transaction
records the notice, an after-commit hook wakes the dispatcher, and a job retries what is due.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession

from spectra.db.session import Database, on_commit, session_scope
from spectra.kit.clock import utc_now
from spectra.kit.money import format_amount
from spectra.ledger import repository as repo
from spectra.ledger.models import LedgerAccount, LowBalanceNotice, NoticeDelivery

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Spectra-Signature"
EVENT = "ledger.low_balance"


def sign(key: bytes, body: bytes, timestamp: int) -> str:
    """The signature header value for `body` sent at `timestamp`."""
    digest = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(key: bytes, body: bytes, header: str) -> bool:
    """Check a signature header (for receivers and tests)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    return hmac.compare_digest(sign(key, body, timestamp), header)


@dataclass
class WebhookDispatcher:
    """Delivers due notices. `url_of` reads the workspace webhook URL; `key` signs."""

    db: Database
    key: bytes
    url_of: Callable[[], str | None]
    max_attempts: int = 8
    backoff_base: float = 2.0
    backoff_cap: float = 3600.0
    timeout: float = 10.0
    _task: asyncio.Task[int] | None = None

    def kick(self) -> None:
        """Deliver due notices in the background (never awaited by the writer)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self.deliver_due(), name="ledger-webhooks"
            )

    async def wait_idle(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)

    async def deliver_due(self) -> int:
        """Try every due notice once; returns how many were delivered."""
        url = self.url_of()
        delivered = 0
        async with session_scope(self.db) as session:
            notices = list(await repo.due_notices(session, now=utc_now()))
            if not notices:
                return 0
            accounts = await repo.accounts_by_ids(session, [n.account_id for n in notices])
            async with aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout)
            ) as http:
                for notice in notices:
                    if not url:
                        notice.delivery = NoticeDelivery.SKIPPED
                        continue
                    ok, error = await self._send(
                        http, url, payload(notice, accounts.get(notice.account_id))
                    )
                    notice.attempts += 1
                    if ok:
                        notice.delivery = NoticeDelivery.DELIVERED
                        notice.delivered_at = utc_now()
                        notice.last_error = None
                        delivered += 1
                    elif notice.attempts >= self.max_attempts:
                        notice.delivery = NoticeDelivery.FAILED
                        notice.last_error = error
                    else:
                        delay = min(
                            self.backoff_cap, self.backoff_base * 2 ** (notice.attempts - 1)
                        )
                        notice.next_attempt_at = utc_now() + timedelta(seconds=delay)
                        notice.last_error = error
        return delivered

    async def send_once(self, event: str, body_obj: dict[str, Any]) -> bool:
        """POST one signed event now, without a stored notice or retries (for events a later
        one supersedes, such as `audit.anchor`). False when no URL is set or delivery failed."""
        url = self.url_of()
        if not url:
            return False
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as http:
            ok, error = await self._send(http, url, body_obj, event=event)
        if not ok:
            log.warning("webhook %s to %s failed: %s", event, url, error)
        return ok

    async def _send(
        self, http: aiohttp.ClientSession, url: str, body_obj: dict[str, Any], event: str = EVENT
    ) -> tuple[bool, str | None]:
        body = json.dumps(body_obj, separators=(",", ":"), sort_keys=True).encode()
        headers = {
            "content-type": "application/json",
            SIGNATURE_HEADER: sign(self.key, body, int(utc_now().timestamp())),
            "X-Spectra-Event": event,
            "X-Spectra-Delivery": body_obj["id"],
        }
        try:
            async with http.post(url, data=body, headers=headers) as response:
                if 200 <= response.status < 300:
                    return True, None
                return False, f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return False, f"{type(exc).__name__}: {exc}"[:500]


def payload(notice: LowBalanceNotice, account: LedgerAccount | None) -> dict[str, Any]:
    return {
        "id": str(notice.id),
        "event": EVENT,
        "account_id": str(notice.account_id),
        "account_kind": account.kind if account else None,
        "owner_id": str(account.owner_id) if account and account.owner_id else None,
        "balance": format_amount(notice.balance_micros),
        "balance_micros": notice.balance_micros,
        "threshold": format_amount(notice.threshold_micros),
        "threshold_micros": notice.threshold_micros,
        "transaction_id": str(notice.transaction_id),
        "at": notice.created_at.isoformat(),
    }


_dispatcher: WebhookDispatcher | None = None


def install(dispatcher: WebhookDispatcher | None) -> None:
    global _dispatcher
    _dispatcher = dispatcher


def current() -> WebhookDispatcher | None:
    return _dispatcher


def kick_after_commit(session: AsyncSession) -> None:
    """Wake the dispatcher once this unit of work commits (nothing happens on rollback)."""
    if _dispatcher is not None:
        on_commit(session, _dispatcher.kick)
