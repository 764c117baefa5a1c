"""Queries and writes of the pool's tables."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from spectra.db.changes import record_change
from spectra.db.repository import page_rows, paginate
from spectra.kit.clock import utc_now
from spectra.kit.pagination import Page

from .models import PoolAccount, PoolAccountDailyFigures, PoolAccountTransition, PoolAlert
from .states import StateSnapshot, Transition


async def list_all_accounts(session: AsyncSession) -> Sequence[PoolAccount]:
    return (
        (
            await session.execute(
                select(PoolAccount).order_by(PoolAccount.priority, PoolAccount.name_key)
            )
        )
        .scalars()
        .all()
    )


async def get_accounts(session: AsyncSession, ids: Sequence[uuid.UUID]) -> Sequence[PoolAccount]:
    return (
        (await session.execute(select(PoolAccount).where(PoolAccount.id.in_(ids)))).scalars().all()
    )


async def get_account(
    session: AsyncSession, account_id: uuid.UUID, *, for_update: bool = False
) -> PoolAccount | None:
    stmt = select(PoolAccount).where(PoolAccount.id == account_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def find_by_name(
    session: AsyncSession, name: str, *, for_update: bool = False
) -> PoolAccount | None:
    stmt = select(PoolAccount).where(PoolAccount.name_key == name.strip().lower())
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def page_accounts(
    session: AsyncSession, *, limit: int | None, cursor: str | None, state: str | None = None
) -> Page[PoolAccount]:
    where = [PoolAccount.state == state] if state is not None else []
    return await page_rows(
        session, PoolAccount, *where, limit=limit, cursor=cursor, descending=False
    )


async def page_transitions(
    session: AsyncSession, account_id: uuid.UUID, *, limit: int | None, cursor: str | None
) -> Page[PoolAccountTransition]:
    stmt = select(PoolAccountTransition).where(PoolAccountTransition.account_id == account_id)
    return await paginate(
        session,
        stmt,
        sort_time=PoolAccountTransition.occurred_at,
        sort_id=PoolAccountTransition.id,
        limit=limit,
        cursor=cursor,
    )


async def page_alerts(
    session: AsyncSession, *, limit: int | None, cursor: str | None, open_only: bool = True
) -> Page[PoolAlert]:
    where = [PoolAlert.resolved_at.is_(None)] if open_only else []
    return await page_rows(session, PoolAlert, *where, limit=limit, cursor=cursor)


async def add_transition(
    session: AsyncSession, *, account_id: uuid.UUID, transition: Transition, actor_label: str
) -> PoolAccountTransition:
    row = PoolAccountTransition(
        account_id=account_id,
        from_state=str(transition.from_state),
        to_state=str(transition.to_state),
        reason=transition.reason[:500],
        failure_type=transition.failure_type,
        cooling_until=transition.cooling_until,
        actor_label=actor_label,
        occurred_at=transition.at,
    )
    session.add(row)
    await session.flush()
    return row


def write_snapshot(account: PoolAccount, snapshot: StateSnapshot) -> None:
    account.state = str(snapshot.state)
    account.state_reason = snapshot.reason[:500]
    account.state_changed_at = snapshot.changed_at or utc_now()
    account.cooling_until = snapshot.cooling_until
    account.cool_streak = snapshot.cool_streak
    account.failure_times = [t.isoformat() for t in snapshot.failure_times]


async def store_transition(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    snapshot: StateSnapshot,
    transition: Transition,
    actor_label: str,
) -> bool:
    """Persist a transition decided in memory, unless the row already holds a newer state."""
    result = await session.execute(
        update(PoolAccount)
        .where(PoolAccount.id == account_id, PoolAccount.state_changed_at <= transition.at)
        .values(
            state=str(snapshot.state),
            state_reason=snapshot.reason[:500],
            state_changed_at=transition.at,
            cooling_until=snapshot.cooling_until,
            cool_streak=snapshot.cool_streak,
            failure_times=[t.isoformat() for t in snapshot.failure_times],
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    await add_transition(
        session, account_id=account_id, transition=transition, actor_label=actor_label
    )
    await record_change(session, "pool.state", account_id)
    return True


async def store_counters(
    session: AsyncSession, *, account_id: uuid.UUID, snapshot: StateSnapshot
) -> None:
    await session.execute(
        update(PoolAccount)
        .where(PoolAccount.id == account_id, PoolAccount.state == str(snapshot.state))
        .values(
            cool_streak=snapshot.cool_streak,
            failure_times=[t.isoformat() for t in snapshot.failure_times],
        )
        .execution_options(synchronize_session=False)
    )


async def add_alert(
    session: AsyncSession, *, kind: str, subject: str, message: str, details: dict[str, Any]
) -> PoolAlert:
    row = PoolAlert(kind=kind, subject=subject[:200], message=message[:500], details=details)
    session.add(row)
    await session.flush()
    return row


async def resolve_alerts(session: AsyncSession, *, kind: str, subject: str) -> None:
    await session.execute(
        update(PoolAlert)
        .where(
            PoolAlert.kind == kind, PoolAlert.subject == subject, PoolAlert.resolved_at.is_(None)
        )
        .values(resolved_at=utc_now())
        .execution_options(synchronize_session=False)
    )


async def month_figures(
    session: AsyncSession, today: date
) -> dict[uuid.UUID, tuple[dict[str, int] | None, int, int]]:
    """Per account: today's row, and cost and tokens of this month's earlier days."""
    first = today.replace(day=1)
    rows = (
        (
            await session.execute(
                select(PoolAccountDailyFigures).where(
                    PoolAccountDailyFigures.day >= first, PoolAccountDailyFigures.day <= today
                )
            )
        )
        .scalars()
        .all()
    )
    out: dict[uuid.UUID, tuple[dict[str, int] | None, int, int]] = {}
    for row in rows:
        today_row, cost, tokens = out.get(row.account_id, (None, 0, 0))
        if row.day == today:
            today_row = {
                "requests": row.requests,
                "successes": row.successes,
                "failures": row.failures,
                "input_tokens": row.input_tokens,
                "output_tokens": row.output_tokens,
                "cost_micros": row.cost_micros,
            }
        else:
            cost += row.cost_micros
            tokens += row.input_tokens + row.output_tokens
        out[row.account_id] = (today_row, cost, tokens)
    return out


async def upsert_daily_figures(
    session: AsyncSession, *, account_id: uuid.UUID, day: date, values: dict[str, Any]
) -> None:
    """Write one account's figures for `day` (absolute values from memory)."""
    row = (
        await session.execute(
            select(PoolAccountDailyFigures).where(
                PoolAccountDailyFigures.account_id == account_id, PoolAccountDailyFigures.day == day
            )
        )
    ).scalar_one_or_none()
    if row is None:
        row = PoolAccountDailyFigures(account_id=account_id, day=day)
        session.add(row)
    for key, value in values.items():
        setattr(row, key, value)
    row.updated_at = utc_now()
    await session.flush()


async def daily_figures(
    session: AsyncSession, account_id: uuid.UUID, *, since: date
) -> Sequence[PoolAccountDailyFigures]:
    return (
        (
            await session.execute(
                select(PoolAccountDailyFigures)
                .where(
                    PoolAccountDailyFigures.account_id == account_id,
                    PoolAccountDailyFigures.day >= since,
                )
                .order_by(PoolAccountDailyFigures.day)
            )
        )
        .scalars()
        .all()
    )


async def all_accounts_for_update(session: AsyncSession) -> list[PoolAccount]:
    """Every pool account, row-locked in id order (credential key rotation)."""
    stmt = select(PoolAccount).order_by(PoolAccount.id).with_for_update()
    return list((await session.execute(stmt)).scalars().all())
