"""An account's life: admin disable, enable, reset and test, scheduled probes and which
accounts are due for one. Admin actions are audited; probes by the system are not."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db.changes import record_change
from spectra.db.serverkey import get_server_keys
from spectra.db.session import AnySession, Session
from spectra.kit.clock import utc_now
from spectra.pool import repository
from spectra.pool.credentials import Credential, unseal
from spectra.pool.errors import AccountDisabledError
from spectra.pool.models import PoolAccount
from spectra.pool.probes import ProbeOutcome, probe
from spectra.pool.state import snapshot_of
from spectra.pool.states import (
    AccountState,
    AdminDisable,
    AdminEnable,
    AdminReset,
    Event,
    ProbeResult,
    apply,
)
from spectra.providers.client import UpstreamClient
from spectra.users.permissions import Permission, require

from ._common import get_for_update


async def disable_account(
    session: Session, actor: Actor, *, account_id: uuid.UUID, reason: str = ""
) -> PoolAccount:
    """Stop sending traffic to an account until an admin enables it. Audited."""
    require(actor, Permission.POOL_WRITE)
    account = await get_for_update(session, account_id)
    return await _admin_event(
        session, actor, account, AdminDisable(utc_now(), reason.strip()), "pool.account_disabled"
    )


async def enable_account(session: Session, actor: Actor, *, account_id: uuid.UUID) -> PoolAccount:
    """Return a disabled account to `active`. Audited."""
    require(actor, Permission.POOL_WRITE)
    account = await get_for_update(session, account_id)
    return await _admin_event(
        session, actor, account, AdminEnable(utc_now()), "pool.account_enabled"
    )


async def reset_account_state(
    session: Session, actor: Actor, *, account_id: uuid.UUID
) -> PoolAccount:
    """Clear cooling, failures and needs_attention: the account is `active` again. Audited.

    A disabled account stays disabled: enable it instead.
    """
    require(actor, Permission.POOL_WRITE)
    account = await get_for_update(session, account_id)
    if account.state == AccountState.DISABLED:
        raise AccountDisabledError(
            f"Account {account.name} is disabled; enable it instead of resetting it.",
            account=account.name,
        )
    return await _admin_event(
        session, actor, account, AdminReset(utc_now()), "pool.account_state_reset"
    )


async def test_account(
    session: Session,
    actor: Actor,
    *,
    account_id: uuid.UUID,
    client: UpstreamClient | None = None,  # noqa: PT028
) -> tuple[PoolAccount, ProbeOutcome]:
    """Send one cheap real request through the account and record its latency and outcome.

    A success returns a cooling, failing or needs_attention account to `active`; an auth or
    quota failure moves it to needs_attention. Audited. (On SQLite the write lock is held for
    the probe, at most about 15 seconds.)
    """
    require(actor, Permission.POOL_WRITE)
    account = await get_for_update(session, account_id)
    credential = unseal(
        get_server_keys().credentials_key(account.credential_key_version),
        account.id,
        account.credential_ciphertext,
    )
    outcome = await probe_and_record(
        session, account, credential, by_admin=True, actor=actor, client=client
    )
    await audit_service.record_on(
        session,
        actor,
        "pool.account_tested",
        "pool_account",
        account,
        outcome=outcome.label,
        latency_ms=outcome.latency_ms,
    )
    await record_change(session, "pool.account", account.id)
    return account, outcome


async def record_probe(
    session: Session, *, account_id: uuid.UUID, outcome: ProbeOutcome
) -> PoolAccount | None:
    """Record a scheduled probe's outcome (system job; not an admin action, so not audited)."""
    account = await repository.get_account(session, account_id, for_update=True)
    if account is None:
        return None
    await _record_outcome(session, account, outcome, by_admin=False, actor_label="system")
    await record_change(session, "pool.account", account.id)
    return account


async def _admin_event(
    session: Session, actor: Actor, account: PoolAccount, event: Event, action: str
) -> PoolAccount:
    before = {"state": account.state, "state_reason": account.state_reason}
    outcome = apply(snapshot_of(account), event)
    if outcome.transition is not None:
        repository.write_snapshot(account, outcome.snapshot)
        await session.flush()
        await repository.add_transition(
            session, account_id=account.id, transition=outcome.transition, actor_label=actor.label
        )
        if outcome.snapshot.state is AccountState.ACTIVE:
            await repository.resolve_alerts(
                session, kind="account_needs_attention", subject=account.name
            )
    await audit_service.record_on(
        session,
        actor,
        action,
        "pool_account",
        account,
        before=before,
        after={"state": account.state, "state_reason": account.state_reason},
    )
    await record_change(session, "pool.account", account.id)
    return account


async def probe_and_record(
    session: Session,
    account: PoolAccount,
    credential: Credential,
    *,
    by_admin: bool,
    actor: Actor,
    client: UpstreamClient | None,
) -> ProbeOutcome:
    async def probe_with(upstream: UpstreamClient) -> ProbeOutcome:
        return await probe(
            upstream,
            provider=account.provider,
            base_url=account.base_url,
            credential=credential,
            models=account.models,
            settings=account.settings,
        )

    if client is None:
        async with UpstreamClient() as own:
            outcome = await probe_with(own)
    else:
        outcome = await probe_with(client)
    await _record_outcome(session, account, outcome, by_admin=by_admin, actor_label=actor.label)
    return outcome


async def _record_outcome(
    session: Session,
    account: PoolAccount,
    outcome: ProbeOutcome,
    *,
    by_admin: bool,
    actor_label: str,
) -> None:
    now = utc_now()
    account.last_probe_at = now
    account.last_probe_ok = outcome.ok
    account.last_probe_outcome = outcome.label
    account.last_probe_latency_ms = outcome.latency_ms
    account.last_probe_message = outcome.message[:500] or None
    result = apply(
        snapshot_of(account),
        ProbeResult(
            at=now,
            ok=outcome.ok,
            failure_type=outcome.failure_type,
            retry_after=outcome.retry_after,
            status=outcome.status,
            by_admin=by_admin,
        ),
    )
    if result.snapshot != snapshot_of(account):
        repository.write_snapshot(account, result.snapshot)
    await session.flush()
    if result.transition is not None:
        await repository.add_transition(
            session, account_id=account.id, transition=result.transition, actor_label=actor_label
        )
        if result.snapshot.state is AccountState.ACTIVE:
            await repository.resolve_alerts(
                session, kind="account_needs_attention", subject=account.name
            )


async def due_for_probe(
    session: AnySession,
    *,
    idle_after: timedelta,
    retry_every: timedelta,
    live: dict[uuid.UUID, Any] | None = None,
) -> list[PoolAccount]:
    """Accounts a scheduled probe should test now: failing or cooling-over accounts not probed
    within `retry_every`, and active accounts with no traffic or probe within `idle_after`.
    `needs_attention` and `disabled` accounts wait for an admin."""
    now = utc_now()
    due: list[PoolAccount] = []
    for account in await repository.list_all_accounts(session):
        last = account.last_probe_at
        if account.state in (AccountState.FAILING, AccountState.COOLING):
            if (
                account.state == AccountState.COOLING
                and account.cooling_until
                and account.cooling_until > now
            ):
                continue
            if last is None or now - last >= retry_every:
                due.append(account)
        elif account.state == AccountState.ACTIVE:
            last_used = live.get(account.id) if live else None
            recent = max((t for t in (last, last_used) if t is not None), default=None)
            if recent is None or now - recent >= idle_after:
                due.append(account)
    return due
