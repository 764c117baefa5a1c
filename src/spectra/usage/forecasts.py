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
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from spectra.audit.actor import Actor
from spectra.db.session import AnySession
from spectra.kit.clock import utc_now
from spectra.kit.money import format_amount, round_micros
from spectra.ledger.models import AccountKind
from spectra.usage import reports, repository, rollups
from spectra.usage.by_project import NO_PROJECT, check_by, project_budgets
from spectra.usage.errors import (
    InvalidUsageFilterError,
    UsageGroupNotFoundError,
    UsageUserNotFoundError,
)
from spectra.usage.statements import leads_subject
from spectra.users import service as users_service
from spectra.users.models import Group, User
from spectra.users.permissions import Permission, allows, require
from spectra.workspace import service as workspace_service

from . import periods

FORECAST_COLUMNS = (
    "subject",
    "label",
    "burn_rate_per_day",
    "window_spend",
    "month_to_date",
    "projected_month_spend",
    "budget",
    "projected_share_of_budget",
    "budget_reached_on",
    "balance",
    "funds_used_per_day",
    "runway_days",
    "runs_out_on",
    "summary",
)


def method_text(window_days: int, time_zone: str) -> str:
    return (
        f"Burn rate: member charges (usage records, hourly rollups) over the last {window_days}×24"
        " whole hours before the current hour, per day. Projected month spend: month to date"
        f" (calendar month in {time_zone}) plus burn rate × days left. Budgets: the group's"
        " monthly cap; a member's is their group's per-member cap. Runway: current balance of the"
        " subject's own wallet and allowances ÷ what usage took from them per day over the same"
        " window, net of refunds (ledger). No future recharge, grant, renewal or expiry is assumed."
    )


@dataclass
class Window:
    now: datetime
    start: datetime
    end: datetime
    days: int
    month_start: datetime
    month_end: datetime
    tz: Any


def _money(micros: int | None) -> str | None:
    return None if micros is None else format_amount(micros)


@dataclass
class Forecast:
    subject: str
    subject_id: str
    label: str
    window_spend_micros: int
    month_to_date_micros: int
    budget_micros: int | None
    balance_micros: int
    funds_used_micros: int
    w: Window
    has_funds: bool = True
    """False for a project: it spends its members' funds and has no balance or runway."""

    @property
    def burn_rate_micros(self) -> int:
        return int(round_micros(Decimal(self.window_spend_micros) / self.w.days))

    @property
    def days_left(self) -> Decimal:
        return Decimal(str(periods.days(self.w.month_end - self.w.now)))

    @property
    def projected_micros(self) -> int:
        rate = Decimal(self.window_spend_micros) / self.w.days
        return self.month_to_date_micros + int(round_micros(rate * self.days_left))

    @property
    def funds_rate(self) -> Decimal:
        return Decimal(self.funds_used_micros) / self.w.days

    @property
    def runway_days(self) -> Decimal | None:
        if not self.has_funds:
            return None
        if self.balance_micros <= 0:
            return Decimal(0)
        if self.funds_rate <= 0:
            return None
        return Decimal(self.balance_micros) / self.funds_rate

    def _date_after(self, days: Decimal) -> str:
        moment = self.w.now + timedelta(days=float(days))
        return periods.local_date(moment, self.w.tz).isoformat()

    @property
    def budget_reached_on(self) -> str | None:
        if self.budget_micros is None:
            return None
        if self.month_to_date_micros >= self.budget_micros:
            return periods.local_date(self.w.now, self.w.tz).isoformat()
        rate = Decimal(self.window_spend_micros) / self.w.days
        if rate <= 0:
            return None
        days = (self.budget_micros - self.month_to_date_micros) / rate
        return self._date_after(days) if days <= self.days_left else None

    def summary(self) -> str:
        who = {"workspace": "The workspace", "group": f"Group {self.label}"}.get(
            self.subject, self.label
        )
        runway = self.runway_days
        if not self.has_funds:
            text = (
                f"Project {self.label} is projected to spend "
                f"{format_amount(self.projected_micros)} this month at the last {self.w.days} "
                "days' rate"
            )
        elif self.balance_micros <= 0:
            text = f"{who} has no balance left"
        elif runway is None:
            text = f"{who}'s balance is not being drawn on (no usage charged to it in the last {self.w.days} days)"
        else:
            day = self.w.now + timedelta(days=float(runway))
            text = (
                f"{who}'s balance lasts until about {day.astimezone(self.w.tz):%b} "
                f"{day.astimezone(self.w.tz).day} at the last {self.w.days} days' rate"
            )
        if self.budget_micros is not None and self.projected_micros > self.budget_micros:
            text += (
                f"; projected month spend {format_amount(self.projected_micros)} exceeds the"
                f" budget of {format_amount(self.budget_micros)}"
            )
        return text + "."

    def as_json(self) -> dict[str, Any]:
        runway = self.runway_days
        share = (
            None
            if not self.budget_micros
            else f"{Decimal(self.projected_micros) / Decimal(self.budget_micros):.4f}"
        )
        return {
            "subject": self.subject,
            "subject_id": self.subject_id,
            "label": self.label,
            "burn_rate_per_day": format_amount(self.burn_rate_micros),
            "burn_rate_per_day_micros": self.burn_rate_micros,
            "window_spend": format_amount(self.window_spend_micros),
            "window_spend_micros": self.window_spend_micros,
            "month_to_date": format_amount(self.month_to_date_micros),
            "month_to_date_micros": self.month_to_date_micros,
            "projected_month_spend": format_amount(self.projected_micros),
            "projected_month_spend_micros": self.projected_micros,
            "budget": _money(self.budget_micros),
            "budget_micros": self.budget_micros,
            "projected_share_of_budget": share,
            "over_budget": (
                None if self.budget_micros is None else self.projected_micros > self.budget_micros
            ),
            "budget_reached_on": self.budget_reached_on,
            "balance": format_amount(self.balance_micros),
            "balance_micros": self.balance_micros,
            "funds_used_per_day": format_amount(int(round_micros(self.funds_rate))),
            "funds_used_per_day_micros": int(round_micros(self.funds_rate)),
            "runway_days": None if runway is None else f"{runway:.1f}",
            "runs_out_on": None if runway is None else self._date_after(runway),
            "summary": self.summary(),
        }


async def _funds(
    session: AnySession, *, users: list[uuid.UUID], groups: list[uuid.UUID]
) -> list[uuid.UUID]:
    ids: list[uuid.UUID] = []
    for user_id in users:
        wallet = await repository.find_owned_account(
            session, kind=AccountKind.USER_WALLET, owner_id=user_id
        )
        if wallet is not None:
            ids.append(wallet.id)
    for allowances in (await repository.allowance_accounts(session, users)).values():
        ids.extend(a for a, _ in allowances)
    for group_id in groups:
        wallet = await repository.find_owned_account(
            session, kind=AccountKind.GROUP_WALLET, owner_id=group_id
        )
        if wallet is not None:
            ids.append(wallet.id)
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
