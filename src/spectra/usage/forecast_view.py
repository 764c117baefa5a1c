"""A forecast as data: one subject's burn rate, projected month spend against its budget and
the runway of its balance, with the summary sentence and the JSON every surface shows
(forecasts.py reads the figures; its module docstring states the method)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from spectra.kit.money import format_amount, round_micros
from spectra.usage import periods

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
            day = (self.w.now + timedelta(days=float(runway))).astimezone(self.w.tz)
            # The year only when it is not this one: "Jan 3, 2027", never "Nov 24" for 2040.
            year = "" if day.year == self.w.now.astimezone(self.w.tz).year else f", {day.year}"
            text = (
                f"{who}'s balance lasts until about {day:%b} {day.day}{year}"
                f" at the last {self.w.days} days' rate"
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
