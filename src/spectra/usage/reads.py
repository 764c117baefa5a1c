"""Read models of the usage reports, forecasts, pool economics, reconciliation and statements:
the documented shapes of the JSON views those modules build (`as_json()` and dicts). A time the
view holds as a `datetime` is a `datetime` here ("Z"); one it already wrote as text is `IsoTime`
("+00:00"), so each answer keeps the bytes it had."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from spectra.kit.schema import AmountOut, IsoTime, ViewRead, money_pair


class ReportRowRead(ViewRead):
    key: str
    label: str
    requests: int
    ok: int
    refused: int
    errors: int
    partial: int
    error_rate: str
    """(errors + partial) / requests, four decimals."""
    refusal_rate: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    """All cache writes; 5-minute ones = this - `cache_write_1h_tokens`."""
    cache_write_1h_tokens: int = 0
    web_search_calls: int = 0
    cost: AmountOut = money_pair("cost")
    cost_micros: int
    avg_latency_ms: int | None


class UsageReportRead(ViewRead):
    by: str
    since: datetime | None
    until: datetime | None
    buckets: str
    """`hour` or `day`: the rollup buckets read."""
    as_of: datetime | None
    """What the rollups have counted up to."""
    items: list[ReportRowRead]
    totals: ReportRowRead
    next_cursor: str | None


class _Bucket(ViewRead):
    bucket_start: datetime


class TimeseriesRowRead(ReportRowRead, _Bucket):
    """One hour or day bucket: `bucket_start`, then the report row's measures."""


class AdoptionRowRead(ViewRead):
    client: str
    members: int
    share_of_members: str
    requests: int
    cost: AmountOut = money_pair("cost")
    cost_micros: int


class ForecastRead(ViewRead):
    subject: str
    subject_id: str
    label: str
    burn_rate_per_day: AmountOut = money_pair("burn_rate_per_day")
    burn_rate_per_day_micros: int
    window_spend: AmountOut = money_pair("window_spend")
    window_spend_micros: int
    month_to_date: AmountOut = money_pair("month_to_date")
    month_to_date_micros: int
    projected_month_spend: AmountOut = money_pair("projected_month_spend")
    projected_month_spend_micros: int
    budget: AmountOut | None = money_pair("budget")
    budget_micros: int | None
    projected_share_of_budget: str | None
    over_budget: bool | None
    budget_reached_on: date | None
    balance: AmountOut = money_pair("balance")
    balance_micros: int
    funds_used_per_day: AmountOut = money_pair("funds_used_per_day")
    funds_used_per_day_micros: int
    runway_days: str | None
    runs_out_on: date | None
    summary: str


class ForecastReportRead(ViewRead):
    now: IsoTime
    time_zone: str
    currency: str
    window_days: int
    window_start: IsoTime
    window_end: IsoTime
    month_start: IsoTime
    month_end: IsoTime
    rollups_as_of: IsoTime | None
    method: str
    items: list[ForecastRead]
    next_cursor: str | None


class EconomicsRowRead(ViewRead):
    """One pool account and model."""

    account: str
    account_id: str | None
    cost_basis: str | None
    model: str
    requests: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cache_write_1h_tokens: int = 0
    web_search_calls: int = 0
    charged: AmountOut = money_pair("charged")
    charged_micros: int
    list_price_cost: AmountOut = money_pair("list_price_cost")
    list_price_cost_micros: int
    list_price_known: bool


class EconomicsAccountRead(ViewRead):
    account: str
    account_id: str | None
    cost_basis: str | None
    requests: int
    charged: AmountOut = money_pair("charged")
    charged_micros: int
    list_price_cost: AmountOut = money_pair("list_price_cost")
    list_price_cost_micros: int
    fixed_cost: AmountOut | None = money_pair("fixed_cost")
    fixed_cost_micros: int | None
    active_members: int
    cost_per_active_member: AmountOut | None = money_pair("cost_per_active_member")
    cost_per_active_member_micros: int | None
    idle_share: str | None
    value_per_fixed_cost: str | None


class EconomicsRead(ViewRead):
    since: IsoTime
    until: IsoTime
    time_zone: str
    currency: str
    rollups_as_of: IsoTime | None
    method: str
    accounts: list[EconomicsAccountRead]
    items: list[EconomicsRowRead]
    next_cursor: str | None


class ReconcileMonthRead(ViewRead):
    month: str
    since: IsoTime
    until: IsoTime
    charged_to_members: AmountOut = money_pair("charged_to_members")
    charged_to_members_micros: int
    usage_charged: AmountOut = money_pair("usage_charged")
    usage_charged_micros: int
    refunds: AmountOut = money_pair("refunds")
    refunds_micros: int
    requests_priced: AmountOut = money_pair("requests_priced")
    requests_priced_micros: int
    unbilled: AmountOut = money_pair("unbilled")
    unbilled_micros: int
    pool_cost_at_list_price: AmountOut = money_pair("pool_cost_at_list_price")
    pool_cost_at_list_price_micros: int
    fixed_account_costs: AmountOut = money_pair("fixed_account_costs")
    fixed_account_costs_micros: int
    pool_cost: AmountOut = money_pair("pool_cost")
    pool_cost_micros: int
    margin: AmountOut = money_pair("margin")
    margin_micros: int
    list_price_value_of_fixed_accounts: AmountOut = money_pair("list_price_value_of_fixed_accounts")
    list_price_value_of_fixed_accounts_micros: int


class ReconcileRead(ViewRead):
    since: IsoTime
    until: IsoTime
    time_zone: str
    currency: str
    method: str
    items: list[ReconcileMonthRead]
    next_cursor: str | None


class CategoryTotalRead(ViewRead):
    category: str
    label: str
    amount: AmountOut = money_pair("amount")
    amount_micros: int


class StatementLineRead(ViewRead):
    category: str
    label: str
    model: str | None
    count: int
    amount: AmountOut = money_pair("amount")
    amount_micros: int
    """Signed, from the subject's point of view: + money in, - money out."""
    input_tokens: int | None = None
    """On usage lines, the tokens behind the amount (None on other lines)."""
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_5m_tokens: int | None = None
    """Cache writes with the 5-minute lifetime (priced at the cache-write price)."""
    cache_write_1h_tokens: int | None = None
    """Cache writes with the 1-hour lifetime (priced at the 1-hour cache-write price)."""


class StatementAccountRead(ViewRead):
    account_id: uuid.UUID
    kind: str
    label: str
    opening: AmountOut = money_pair("opening")
    opening_micros: int
    closing: AmountOut = money_pair("closing")
    closing_micros: int


class ProjectSpendRead(ViewRead):
    project_id: uuid.UUID | None
    """None: requests attributed to no project."""
    label: str
    requests: int
    usage: AmountOut = money_pair("usage")
    usage_micros: int
    refunds: AmountOut = money_pair("refunds")
    refunds_micros: int
    net: AmountOut = money_pair("net")
    net_micros: int


class StatementRead(ViewRead):
    subject: str
    """`user` or `group`."""
    subject_id: uuid.UUID
    subject_label: str
    currency: str
    time_zone: str
    since: IsoTime
    until: IsoTime
    since_local: IsoTime
    until_local: IsoTime
    generated_at: IsoTime
    opening_balance: AmountOut = money_pair("opening_balance")
    opening_balance_micros: int
    closing_balance: AmountOut = money_pair("closing_balance")
    closing_balance_micros: int
    ledger_balance: AmountOut | None = money_pair("ledger_balance")
    ledger_balance_micros: int | None
    reconciles: bool
    lines: list[StatementLineRead]
    by_category: list[CategoryTotalRead]
    accounts: list[StatementAccountRead]
    by_project: list[ProjectSpendRead] | None = None
    """With `by=project`: the usage and refunds lines per project (they sum to those lines)."""
    by_project_reconciles: bool | None = None
    method: str
