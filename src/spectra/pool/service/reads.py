"""Reading the pool: accounts, their history and figures, alerts, and the members' status view."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import replace
from typing import Any

from spectra.audit.actor import Actor
from spectra.db.session import ReadSession, Session
from spectra.kit.clock import utc_now
from spectra.kit.pagination import Page
from spectra.pool import repository
from spectra.pool.coverage import Coverage, coverage
from spectra.pool.errors import AccountNotFoundError, ProtocolUnknownError
from spectra.pool.models import PoolAccount, PoolAccountTransition, PoolAlert
from spectra.pool.state import PROTOCOL_PROVIDERS, snapshot_of
from spectra.pool.states import AccountState
from spectra.users.permissions import Permission, allows, require


async def get_account(
    session: ReadSession | Session, actor: Actor, *, account_id: uuid.UUID
) -> PoolAccount:
    require(actor, Permission.READ_ALL)
    account = await repository.get_account(session, account_id)
    if account is None:
        raise AccountNotFoundError("No pool account has that id.", account_id=str(account_id))
    return account


async def get_account_by_name(
    session: ReadSession | Session, actor: Actor, *, name: str
) -> PoolAccount:
    require(actor, Permission.READ_ALL)
    account = await repository.find_by_name(session, name)
    if account is None:
        raise AccountNotFoundError(
            f"No pool account is named '{name}'; `spectra pool list` shows them.", name=name
        )
    return account


async def list_accounts(
    session: ReadSession | Session,
    actor: Actor,
    *,
    limit: int | None = None,
    cursor: str | None = None,
    state: str | None = None,
) -> Page[PoolAccount]:
    require(actor, Permission.READ_ALL)
    return await repository.page_accounts(session, limit=limit, cursor=cursor, state=state)


async def list_history(
    session: ReadSession | Session,
    actor: Actor,
    *,
    account_id: uuid.UUID,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[PoolAccountTransition]:
    """The account's state transitions, newest first, each with its reason and time."""
    await get_account(session, actor, account_id=account_id)
    return await repository.page_transitions(session, account_id, limit=limit, cursor=cursor)


async def list_alerts(
    session: ReadSession | Session,
    actor: Actor,
    *,
    limit: int | None = None,
    cursor: str | None = None,
    open_only: bool = True,
) -> Page[PoolAlert]:
    require(actor, Permission.READ_ALL)
    return await repository.page_alerts(session, limit=limit, cursor=cursor, open_only=open_only)


async def persisted_figures(
    session: ReadSession | Session, actor: Actor, *, account_id: uuid.UUID
) -> dict[str, Any]:
    """Today's and this month's figures as last persisted by the figures job."""
    require(actor, Permission.READ_ALL)
    today = utc_now().date()
    rows = await repository.daily_figures(session, account_id, since=today.replace(day=1))
    month_cost = sum(r.cost_micros for r in rows)
    month_tokens = sum(r.input_tokens + r.output_tokens for r in rows)
    current = next((r for r in rows if r.day == today), None)
    return {
        "requests_today": current.requests if current else 0,
        "successes_today": current.successes if current else 0,
        "failures_today": current.failures if current else 0,
        "latency_p50_ms": current.latency_p50_ms if current else None,
        "latency_p95_ms": current.latency_p95_ms if current else None,
        "cost_today_micros": current.cost_micros if current else 0,
        "cost_month_micros": month_cost,
        "tokens_month": month_tokens,
    }


async def pool_status(session: ReadSession | Session, actor: Actor) -> dict[str, Any]:
    """For members: per served model, how many accounts serve it and how many are usable now.

    No account names, URLs or credentials. `degraded` when some model has fewer usable accounts
    than configured ones.
    """
    require(actor, Permission.SELF)
    now = utc_now()
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for account in await repository.list_all_accounts(session):
        if account.state == AccountState.DISABLED:
            continue
        usable = snapshot_of(account).usable_at(now)
        for model in {*account.models, *account.aliases}:
            counts[model][0] += 1
            counts[model][1] += int(usable)
    models = [
        {"model": model, "accounts": total, "available": available, "degraded": available < total}
        for model, (total, available) in sorted(counts.items())
    ]
    return {"degraded": any(m["degraded"] for m in models), "models": models}


async def model_coverage(
    session: ReadSession | Session,
    actor: Actor,
    *,
    model: str,
    protocol: str | None = None,
    group_id: uuid.UUID | None = None,
) -> Coverage:
    """Which accounts could serve `model` for a member of `group_id` speaking `protocol` (any
    when None), which protocol each speaks, and why the others would be skipped. Account names
    are shown to those who may read everything; members see `account 1`, `account 2`, ..."""
    require(actor, Permission.SELF)
    if protocol is not None and protocol not in PROTOCOL_PROVIDERS:
        raise ProtocolUnknownError(
            f"There is no protocol '{protocol}'; use one of {', '.join(PROTOCOL_PROVIDERS)}.",
            field="protocol",
        )
    rows = await repository.list_all_accounts(session)
    found = coverage(
        rows,
        model,
        protocol=protocol,
        group_id=None if group_id is None else str(group_id),
        now=utc_now(),
    )
    if allows(actor, Permission.READ_ALL):
        return found
    hidden = tuple(
        replace(fit, account=f"account {n}") for n, fit in enumerate(found.accounts, start=1)
    )
    return replace(found, accounts=hidden)
