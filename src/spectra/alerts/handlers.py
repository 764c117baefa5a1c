"""Unit-of-work handlers: budget thresholds are checked on each settlement batch, in its
transaction (so the alert and its outbox rows commit with the spend that caused them); a
set-up or reset link, and a sign-in from a new device, are e-mailed through the outbox when
mail is configured."""

from __future__ import annotations

import logging

from spectra.alerts import service
from spectra.alerts.detect import Touched, check_budgets, wallet_low
from spectra.db import events
from spectra.db.session import Session
from spectra.kit.clock import utc_now
from spectra.ledger.events import LowBalancesNoticed
from spectra.usage.events import UsageBatchRecorded
from spectra.users.events import NewDeviceSignIn, SetupLinkIssued
from spectra.users.sessions import setup_path
from spectra.workspace.cache import settings_cache

log = logging.getLogger(__name__)


def touched_by(event: UsageBatchRecorded) -> Touched:
    charged = [r for r in event.records if r.cost_micros > 0]
    return Touched(
        group_ids=frozenset(r.group_id for r in charged if r.group_id is not None),
        members=frozenset(
            (r.user_id, r.group_id)
            for r in charged
            if r.user_id is not None and r.group_id is not None
        ),
        allowance_accounts=frozenset(
            f.account_id for r in charged for f in r.funding if f.kind == "allowance"
        ),
    )


async def on_usage_batch(session: Session, event: UsageBatchRecorded) -> None:
    """Check the batch's budgets in a savepoint: a failure here is logged and never costs the
    batch its money (the sweep job tries again)."""
    touched = touched_by(event)
    if not (touched.group_ids or touched.members or touched.allowance_accounts):
        return
    try:
        async with session.begin_nested():
            await check_budgets(session, touched, settings_cache.current, utc_now())
    except Exception:
        log.exception("budget alert check failed for a settlement batch")


async def on_low_balances(session: Session, event: LowBalancesNoticed) -> None:
    """Each low-balance notice becomes a `wallet_low` alert, in a savepoint (never costs the
    posting its money)."""
    try:
        async with session.begin_nested():
            await wallet_low(session, event.notices, settings_cache.current)
    except Exception:
        log.exception("wallet_low alerts failed for %d notices", len(event.notices))


_public_base: str | None = None


def configure(*, public_base: str) -> None:
    """The base URL links in mail start with (the process's `settings.public_base()`)."""
    global _public_base
    _public_base = public_base


async def on_setup_link(session: Session, event: SetupLinkIssued) -> None:
    """Mail the link (sealed in the outbox) when SMTP is configured; the issuer then sees only
    the address it went to."""
    settings = settings_cache.current
    if not settings.smtp_host or not settings.smtp_from or _public_base is None:
        return
    link = _public_base + setup_path(event.token)
    until = event.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    hello = f"Hello {event.name}," if event.name else "Hello,"
    if event.invited:
        subject = "You are invited to Spectra"
        lead = "You have been invited to Spectra. Choose your password with this link:"
    else:
        subject = "Set your Spectra password"
        lead = "Set a new Spectra password with this link:"
    body = (
        f"{hello}\n\n{lead}\n\n{link}\n\nIt works once, until {until}. If you did not "
        "expect this mail, ignore it.\n"
    )
    await service.queue_email(session, to=event.email, subject=subject, body=body, secret=True)
    event.mailed_to = event.email


SESSIONS_PATH = "/console/account/sessions"


async def on_new_device(session: Session, event: NewDeviceSignIn) -> None:
    """Tell the user about a sign-in from a device they had not used (when SMTP is configured):
    when, from where, with what, and the page to review and end their sessions."""
    settings = settings_cache.current
    if not settings.smtp_host or not settings.smtp_from or _public_base is None:
        return
    hello = f"Hello {event.name}," if event.name else "Hello,"
    body = (
        f"{hello}\n\nYour Spectra account was just signed in to from a device it had not "
        f"been used from before.\n\n"
        f"  Time:       {event.at.strftime('%Y-%m-%d %H:%M:%S UTC')}\n"
        f"  IP address: {event.client_ip or 'unknown'}\n"
        f"  Device:     {event.device}\n"
        f"  User agent: {(event.user_agent or 'none sent')[:300]}\n\n"
        "If this was you, there is nothing to do. If not, review your sessions, sign the "
        f"others out and change your password:\n\n{_public_base}{SESSIONS_PATH}\n"
    )
    await service.queue_email(
        session, to=event.email, subject="New sign-in to your Spectra account", body=body
    )


def register() -> None:
    events.subscribe(UsageBatchRecorded, on_usage_batch)
    events.subscribe(SetupLinkIssued, on_setup_link)
    events.subscribe(NewDeviceSignIn, on_new_device)
    events.subscribe(LowBalancesNoticed, on_low_balances)
