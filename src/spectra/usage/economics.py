"""Pool economics and the monthly reconciliation of member charges against pool costs.

- Cost at list price: the tokens an account served (hourly rollups by account × model) priced at
  the genai-prices list price of the requested model at each hour, in the workspace currency,
  rounded once per hour bucket. A long-context tier applies per request, as charging does: the
  hour's totals are priced at base rates, and each request whose own prompt crosses a tier adds
  its tier's difference (read from its usage record). A model genai-prices does not know is valued at what members were
  charged for it (the workspace price), and says so (`list_price_known: false`).
- Fixed-cost accounts (`cost_basis = fixed_monthly`): the monthly cost is prorated by the share
  of each calendar month (workspace time zone) that falls in the range and that the account
  existed; cost per active member divides it by the distinct members the account served;
  idle share is the share of hours in that span in which it served no request.
- Reconciliation per month: members charged (ledger: usage − refunds on the usage expense
  account), requests priced (usage records), pool cost at list price (list-price accounts),
  fixed account costs, and the margin between charges and pool cost.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from spectra.audit.actor import Actor
from spectra.db.session import AnySession
from spectra.kit.money import format_amount, round_micros
from spectra.ledger.models import AccountKind
from spectra.pool.models import PoolAccount
from spectra.usage import defaults, repository, rollups
from spectra.usage.errors import InvalidUsageFilterError
from spectra.usage.pricing import TOKEN_FIELDS, TokenUsage, exact_cost_micros
from spectra.users.permissions import Permission, require
from spectra.workspace import service as workspace_service
from spectra.workspace.schemas import WorkspaceSettings

from . import periods

METHOD = " ".join((__doc__ or "").split("\n\n", 1)[-1].split())
ECONOMICS_COLUMNS = (
    "account",
    "cost_basis",
    "model",
    "requests",
    *TOKEN_FIELDS,
    "charged",
    "list_price_cost",
    "list_price_known",
)
ACCOUNT_COLUMNS = (
    "account",
    "cost_basis",
    "requests",
    "charged",
    "list_price_cost",
    "fixed_cost",
    "active_members",
    "cost_per_active_member",
    "idle_share",
    "value_per_fixed_cost",
)
RECONCILE_COLUMNS = (
    "month",
    "charged_to_members",
    "usage_charged",
    "refunds",
    "requests_priced",
    "unbilled",
    "pool_cost_at_list_price",
    "fixed_account_costs",
    "pool_cost",
    "margin",
    "list_price_value_of_fixed_accounts",
)
_TOKENS = TOKEN_FIELDS
_MEASURES = ("requests", *_TOKENS, "cost_micros")


def _m(micros: int) -> str:
    return format_amount(micros)


@dataclass
class Cell:
    """Sums for one (account, model) over a range."""

    requests: int = 0
    tokens: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_TOKENS, 0))
    charged: int = 0
    list_cost: int = 0
    list_known: bool = True


def list_cost(
    model: str,
    tokens: dict[str, int],
    at: datetime,
    ws: WorkspaceSettings,
    long_requests: Sequence[TokenUsage] = (),
) -> int | None:
    """The list price in the workspace currency, or None, of `tokens` of `model` served in the
    hour at `at`, of which `long_requests` are the requests whose prompt may cross a tier: the
    totals at base rates plus each such request's tier difference, rounded once."""
    known = defaults.default_price(model, at)
    if known is None:
        return None
    price = known.in_currency(model, currency=ws.currency, usd_rate=ws.usd_rate_decimal)
    flat = replace(price, tiers=())
    total = exact_cost_micros(TokenUsage(**tokens), flat)
    for usage in long_requests:
        total += exact_cost_micros(usage, price) - exact_cost_micros(usage, flat)
    return int(round_micros(total))


def _hour_key(at: datetime) -> datetime:
    return rollups.hour_of(at).replace(tzinfo=None)


async def _long_requests(
    session: AnySession, since: datetime, until: datetime
) -> dict[tuple[str, str, datetime], list[TokenUsage]]:
    """Per (account, model, hour): the usage of each request a long-context tier may price."""
    rows = await repository.long_prompt_records(
        session,
        since=since,
        until=until,
        above=defaults.lowest_tier_threshold(),
        counted=await rollups.counted_condition(session),
    )
    found: dict[tuple[str, str, datetime], list[TokenUsage]] = defaultdict(list)
    for r in rows:
        account = "" if r.account_id is None else str(r.account_id)
        usage = TokenUsage(**{t: min(int(getattr(r, t) or 0), _MAX) for t in _TOKENS})
        found[(account, r.model_requested, _hour_key(r.created_at))].append(usage)
    return found


_MAX = rollups.MAX_RECORD_TOKENS


async def _served(
    session: AnySession, since: datetime, until: datetime, ws: WorkspaceSettings
) -> dict[tuple[str, str], Cell]:
    rows = await repository.rollup_sums(
        session,
        dimension="account_model",
        since=rollups.hour_of(since),
        until=until,
        measures=_MEASURES,
        by_bucket=True,
    )
    long_requests = await _long_requests(session, rollups.hour_of(since), until)
    cells: dict[tuple[str, str], Cell] = defaultdict(Cell)
    for r in rows:
        account, _, model = r.value.partition("|")
        cell = cells[(account, model)]
        tokens = {t: int(getattr(r, t) or 0) for t in _TOKENS}
        cell.requests += int(r.requests or 0)
        for t in _TOKENS:
            cell.tokens[t] += tokens[t]
        charged = int(r.cost_micros or 0)
        cell.charged += charged
        long = long_requests.get((account, model, _hour_key(r.bucket_start)), ())
        priced = list_cost(model, tokens, r.bucket_start, ws, long)
        if priced is None:
            cell.list_known = False
            priced = charged
        cell.list_cost += priced
    return cells


def _check(since: datetime, until: datetime) -> None:
    if since.tzinfo is None or until.tzinfo is None:
        raise InvalidUsageFilterError("The range's bounds need a time zone.")
    if until <= since:
        raise InvalidUsageFilterError("The end of the range must be after its start.")


def prorated_fixed(
    account: PoolAccount, since: datetime, until: datetime, tz: Any
) -> tuple[int, timedelta]:
    """The account's fixed cost for [since, until) (by calendar month share), and the span it
    existed in that range."""
    if account.cost_basis != "fixed_monthly" or account.fixed_monthly_cost_micros is None:
        return 0, timedelta(0)
    start = max(since, account.created_at)
    if start >= until:
        return 0, timedelta(0)
    total = Decimal(0)
    for lo, hi in periods.months(start, until, tz):
        m_start, m_end = periods.month_bounds(lo, tz)
        share = Decimal((hi - lo).total_seconds()) / Decimal((m_end - m_start).total_seconds())
        total += Decimal(account.fixed_monthly_cost_micros) * share
    return int(round_micros(total)), until - start


async def pool_economics(
    session: AnySession, actor: Actor, *, since: datetime, until: datetime
) -> dict[str, Any]:
    """Per pool account and model: what it served, what members were charged for it, its cost at
    list price; per account: fixed cost, cost per active member and idle share. Read-only."""
    require(actor, Permission.READ_ALL)
    _check(since, until)
    ws = await workspace_service.get_settings(session)
    tz = periods.zone(ws.time_zone)
    cells = await _served(session, since, until, ws)
    accounts = {str(a.id): a for a in await repository.pool_accounts(session)}
    members = await repository.rollup_sums(
        session,
        dimension="account_user",
        since=rollups.hour_of(since),
        until=until,
        measures=("requests",),
    )
    active: dict[str, set[str]] = defaultdict(set)
    for r in members:
        account, _, user = r.value.partition("|")
        if user and int(r.requests or 0) > 0:
            active[account].add(user)
    busy_hours = await repository.rollup_sums(
        session,
        dimension="account",
        since=rollups.hour_of(since),
        until=until,
        measures=("requests",),
        by_bucket=True,
    )
    busy: dict[str, int] = defaultdict(int)
    for r in busy_hours:
        if int(r.requests or 0) > 0:
            busy[r.value] += 1

    def name(account_id: str) -> str:
        found = accounts.get(account_id)
        return found.name if found else (account_id or "(no account)")

    items = []
    for (account_id, model), cell in sorted(
        cells.items(), key=lambda kv: (name(kv[0][0]), kv[0][1])
    ):
        found = accounts.get(account_id)
        items.append(
            {
                "account": name(account_id),
                "account_id": account_id or None,
                "cost_basis": found.cost_basis if found else None,
                "model": model,
                "requests": cell.requests,
                **cell.tokens,
                "charged": _m(cell.charged),
                "charged_micros": cell.charged,
                "list_price_cost": _m(cell.list_cost),
                "list_price_cost_micros": cell.list_cost,
                "list_price_known": cell.list_known,
            }
        )
    summary = []
    ids = sorted(set(accounts) | {a for a, _ in cells}, key=name)
    for account_id in ids:
        found = accounts.get(account_id)
        mine = [c for (a, _), c in cells.items() if a == account_id]
        charged = sum(c.charged for c in mine)
        listed = sum(c.list_cost for c in mine)
        fixed, span = prorated_fixed(found, since, until, tz) if found else (0, timedelta(0))
        hours = int(span.total_seconds() // 3600)
        n = len(active.get(account_id, ()))
        is_fixed = found is not None and found.cost_basis == "fixed_monthly"
        summary.append(
            {
                "account": name(account_id),
                "account_id": account_id or None,
                "cost_basis": found.cost_basis if found else None,
                "requests": sum(c.requests for c in mine),
                "charged": _m(charged),
                "charged_micros": charged,
                "list_price_cost": _m(listed),
                "list_price_cost_micros": listed,
                "fixed_cost": _m(fixed) if is_fixed else None,
                "fixed_cost_micros": fixed if is_fixed else None,
                "active_members": n,
                "cost_per_active_member": (_m(fixed // n) if is_fixed and n else None),
                "cost_per_active_member_micros": (fixed // n if is_fixed and n else None),
                "idle_share": (
                    f"{1 - min(busy.get(account_id, 0), hours) / hours:.4f}"
                    if is_fixed and hours
                    else None
                ),
                "value_per_fixed_cost": (f"{listed / fixed:.4f}" if is_fixed and fixed else None),
            }
        )
    as_of, _ = await rollups.cursor_position(session)
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "time_zone": ws.time_zone,
        "currency": ws.currency,
        "rollups_as_of": as_of.isoformat() if as_of else None,
        "method": METHOD,
        "accounts": summary,
        "items": items,
        "next_cursor": None,
    }


async def reconcile(
    session: AnySession, actor: Actor, *, since: datetime, until: datetime
) -> dict[str, Any]:
    """Per calendar month (workspace time zone) in [since, until): what members were charged
    (ledger), what requests were priced at (records), the pool's cost at list price and the
    fixed account costs, and the margin. Read-only."""
    require(actor, Permission.READ_ALL)
    _check(since, until)
    ws = await workspace_service.get_settings(session)
    tz = periods.zone(ws.time_zone)
    accounts = {str(a.id): a for a in await repository.pool_accounts(session)}
    items = []
    for lo, hi in periods.months(since, until, tz):
        ledger = await repository.singleton_movements(
            session, kind=AccountKind.USAGE_EXPENSE, since=lo, until=hi
        )
        usage = ledger.get("usage", 0)
        refunds = ledger.get("refund", 0)
        priced_rows = await repository.rollup_sums(
            session, dimension="all", since=rollups.hour_of(lo), until=hi, values=[""]
        )
        priced = sum(int(r.cost_micros or 0) for r in priced_rows)
        cells = await _served(session, lo, hi, ws)
        list_pool = 0
        fixed_value = 0
        for (account_id, _), cell in cells.items():
            found = accounts.get(account_id)
            if found is not None and found.cost_basis == "fixed_monthly":
                fixed_value += cell.list_cost
            elif account_id:
                list_pool += cell.list_cost
        fixed = sum(prorated_fixed(a, lo, hi, tz)[0] for a in accounts.values())
        charged = usage + refunds
        pool = list_pool + fixed
        items.append(
            {
                "month": periods.month_label(lo, tz),
                "since": lo.isoformat(),
                "until": hi.isoformat(),
                "charged_to_members": _m(charged),
                "charged_to_members_micros": charged,
                "usage_charged": _m(usage),
                "usage_charged_micros": usage,
                "refunds": _m(refunds),
                "refunds_micros": refunds,
                "requests_priced": _m(priced),
                "requests_priced_micros": priced,
                "unbilled": _m(priced - usage),
                "unbilled_micros": priced - usage,
                "pool_cost_at_list_price": _m(list_pool),
                "pool_cost_at_list_price_micros": list_pool,
                "fixed_account_costs": _m(fixed),
                "fixed_account_costs_micros": fixed,
                "pool_cost": _m(pool),
                "pool_cost_micros": pool,
                "margin": _m(charged - pool),
                "margin_micros": charged - pool,
                "list_price_value_of_fixed_accounts": _m(fixed_value),
                "list_price_value_of_fixed_accounts_micros": fixed_value,
            }
        )
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "time_zone": ws.time_zone,
        "currency": ws.currency,
        "method": (
            f"Months are calendar months in {ws.time_zone}. charged_to_members = usage − refunds"
            " posted to the ledger's usage expense account; requests_priced = the cost on usage"
            " records (hourly rollups); unbilled = requests_priced − usage charged (requests no"
            " balance paid for, or records not yet rolled up); pool_cost = list-price cost of what"
            " list-price accounts served + fixed monthly costs prorated to the month; margin ="
            " charged_to_members − pool_cost."
        ),
        "items": items,
        "next_cursor": None,
    }
