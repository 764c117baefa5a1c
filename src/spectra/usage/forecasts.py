"""Forecasts: burn rate, projected month-end spend against budgets, and runway of balances.

Method (also stated in every answer):
- Burn rate = what members were charged (usage record cost, from the hourly rollups) over the
  last N×24 whole hours before the current hour, divided by N: an average per day.
- Month to date = hourly rollups from the start of the calendar month in the workspace time zone
  up to now (a zone whose offset is not whole hours widens that start to its UTC hour).
- Projected month spend = month to date + burn rate × days left in the month.
- Budgets: a group's `monthly_cap`; a member's is their group's `member_monthly_cap`.
- Runway = current balance of the subject's own funds (a user's wallet and package allowances;
  a group's wallet; for the workspace every wallet and allowance) ÷ the average daily amount
  usage took from those same accounts over the window, net of refunds (from the ledger).
  Future recharges, grants, renewals and expiries are not assumed.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from spectra.audit.actor import Actor
from spectra.db.session import AnySession
from spectra.kit.clock import utc_now
from spectra.ledger.models import AccountKind
from spectra.usage import reports, repository, rollups
from spectra.usage.by_project import NO_PROJECT, check_by, project_budgets
from spectra.usage.errors import (
    InvalidUsageFilterError,
    UsageGroupNotFoundError,
    UsageUserNotFoundError,
)
from spectra.usage.forecast_view import FORECAST_COLUMNS, Forecast, Window, method_text
from spectra.usage.statements import leads_subject
from spectra.users import service as users_service
from spectra.users.models import Group, User
from spectra.users.permissions import Permission, allows, require
from spectra.workspace import service as workspace_service

from . import periods

__all__ = ["FORECAST_COLUMNS", "Forecast", "Window", "forecast", "method_text"]


async def _funds(
    session: AnySession, *, users: list[uuid.UUID], groups: list[uuid.UUID]
) -> list[uuid.UUID]:
    ids = await repository.owned_account_ids(session, kind=AccountKind.USER_WALLET, owner_ids=users)
    for allowances in (await repository.allowance_accounts(session, users)).values():
        ids.extend(a for a, _ in allowances)
    ids += await repository.owned_account_ids(
        session, kind=AccountKind.GROUP_WALLET, owner_ids=groups
    )
    return ids


async def _forecast(
    session: AnySession,
    w: Window,
    *,
    subject: str,
    subject_id: str,
    label: str,
    dimension: str,
    value: str,
    budget: int | None,
    funds: list[uuid.UUID],
) -> Forecast:
    window = await repository.rollup_sums(
        session, dimension=dimension, since=w.start, until=w.end, values=[value]
    )
    month = await repository.rollup_sums(
        session, dimension=dimension, since=rollups.hour_of(w.month_start), values=[value]
    )
    balances = await repository.cached_balances(session, funds)
    used = await repository.usage_outflow(session, funds, w.start, w.end)
    return Forecast(
        subject=subject,
        subject_id=subject_id,
        label=label,
        window_spend_micros=sum(int(r.cost_micros or 0) for r in window),
        month_to_date_micros=sum(int(r.cost_micros or 0) for r in month),
        budget_micros=budget,
        balance_micros=sum(balances.values()),
        funds_used_micros=used,
        w=w,
    )


async def _user_forecast(
    session: AnySession, w: Window, user: User, group: Group | None
) -> Forecast:
    return await _forecast(
        session,
        w,
        subject="user",
        subject_id=str(user.id),
        label=user.email,
        dimension="user",
        value=str(user.id),
        budget=group.member_monthly_cap_micros if group is not None else None,
        funds=await _funds(session, users=[user.id], groups=[]),
    )


async def _group_forecast(session: AnySession, w: Window, group: Group) -> Forecast:
    return await _forecast(
        session,
        w,
        subject="group",
        subject_id=str(group.id),
        label=group.name,
        dimension="group",
        value=str(group.id),
        budget=group.monthly_cap_micros,
        funds=await _funds(session, users=[], groups=[group.id]),
    )


async def _project_forecasts(session: AnySession, w: Window) -> list[Forecast]:
    """One forecast per project with spend in the window or this month, and "(no project)"."""
    since = min(w.start, rollups.hour_of(w.month_start))
    values = {
        r.value for r in await repository.rollup_sums(session, dimension="project", since=since)
    }
    named = sorted(v for v in values if v)
    names = await reports.labels(session, "project", named)
    budgets = await project_budgets(session, [uuid.UUID(v) for v in named])
    out: list[Forecast] = []
    for value in [*sorted(named, key=lambda v: names.get(v, v)), *([""] if "" in values else [])]:
        item = await _forecast(
            session,
            w,
            subject="project",
            subject_id=value,
            label=names.get(value, value) if value else NO_PROJECT,
            dimension="project",
            value=value,
            budget=budgets.get(uuid.UUID(value)) if value else None,
            funds=[],
        )
        item.has_funds = False
        out.append(item)
    return out


async def forecast(
    session: AnySession,
    actor: Actor,
    *,
    user_id: uuid.UUID | None = None,
    group_id: uuid.UUID | None = None,
    window_days: int = 7,
    limit: int = 50,
    by: str | None = None,
) -> dict[str, Any]:
    """Forecasts for one user, one group (and its members), or the workspace (with every group
    and the `limit` users who spent most in the window; with `by="project"` every project and
    "(no project)" instead, which sum to the workspace's figures). Read-only. A team lead may
    ask for a group they lead or one of its members, never the workspace."""
    by = check_by(by)
    if by is not None and (user_id is not None or group_id is not None):
        raise InvalidUsageFilterError(
            "A forecast by project covers the workspace; leave out the user and the group."
        )
    if not (
        allows(actor, Permission.READ_ALL)
        or await leads_subject(session, actor, user_id=user_id, group_id=group_id)
    ):
        require(actor, Permission.READ_ALL)
    if not 1 <= window_days <= 90:
        raise InvalidUsageFilterError("The window is 1 to 90 days.", window_days=window_days)
    settings = await workspace_service.get_settings(session)
    tz = periods.zone(settings.time_zone)
    now = utc_now()
    end = rollups.hour_of(now)
    start_m, end_m = periods.month_bounds(now, tz)
    w = Window(now, end - timedelta(days=window_days), end, window_days, start_m, end_m, tz)
    all_groups = {g.id: g for g in await repository.groups(session)}
    items: list[Forecast] = []
    if user_id is not None:
        user = (await users_service.users_by_id(session, [user_id])).get(user_id)
        if user is None:
            raise UsageUserNotFoundError("That user does not exist.", user_id=str(user_id))
        items.append(await _user_forecast(session, w, user, all_groups.get(user.group_id)))
    elif group_id is not None:
        group = all_groups.get(group_id)
        if group is None:
            raise UsageGroupNotFoundError("That group does not exist.", group_id=str(group_id))
        items.append(await _group_forecast(session, w, group))
        for member in await repository.members_of(session, group_id):
            items.append(await _user_forecast(session, w, member, group))
    else:
        everyone = await repository.accounts_of_kinds(
            session,
            [AccountKind.USER_WALLET, AccountKind.GROUP_WALLET, AccountKind.ALLOWANCE],
        )
        items.append(
            await _forecast(
                session,
                w,
                subject="workspace",
                subject_id="",
                label="workspace",
                dimension="all",
                value="",
                budget=None,
                funds=everyone,
            )
        )
        if by is not None:
            items.extend(await _project_forecasts(session, w))
    if user_id is None and group_id is None and by is None:
        for group in all_groups.values():
            items.append(await _group_forecast(session, w, group))
        spenders = await repository.rollup_sums(
            session, dimension="user", since=w.start, until=w.end
        )
        top = sorted(
            (r for r in spenders if r.value and int(r.cost_micros or 0) > 0),
            key=lambda r: -int(r.cost_micros or 0),
        )[:limit]
        ids = [uuid.UUID(r.value) for r in top]
        users = await users_service.users_by_id(session, ids)
        for uid in ids:
            if uid in users:
                items.append(
                    await _user_forecast(
                        session, w, users[uid], all_groups.get(users[uid].group_id)
                    )
                )
    as_of, _ = await rollups.cursor_position(session)
    return {
        "now": now.isoformat(),
        "time_zone": settings.time_zone,
        "currency": settings.currency,
        "window_days": window_days,
        "window_start": w.start.isoformat(),
        "window_end": w.end.isoformat(),
        "month_start": start_m.isoformat(),
        "month_end": end_m.isoformat(),
        "rollups_as_of": as_of.isoformat() if as_of else None,
        "method": method_text(window_days, settings.time_zone),
        "items": [f.as_json() for f in items],
        "next_cursor": None,
    }
