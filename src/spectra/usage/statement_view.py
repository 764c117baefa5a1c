"""A statement as data: its lines by category and model, its accounts' opening and closing
balances, and the JSON every surface shows (statements.py builds it from the ledger)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from spectra.kit.money import format_amount
from spectra.usage import periods
from spectra.usage.by_project import ProjectSpend

CATEGORIES: tuple[tuple[str, str], ...] = (
    ("recharges", "Recharges"),
    ("redemptions", "Code redemptions"),
    ("grants", "Package grants"),
    ("usage", "Usage"),
    ("refunds", "Refunds"),
    ("adjustments", "Adjustments"),
    ("transfers_in", "Transfers in"),
    ("transfers_out", "Transfers out"),
    ("expiries", "Expired allowance"),
    ("reversals", "Reversals"),
    ("other", "Other"),
)
_LABELS = dict(CATEGORIES)
_ORDER = {name: i for i, (name, _) in enumerate(CATEGORIES)}
_BY_KIND = {
    "recharge": "recharges",
    "redeem": "redemptions",
    "grant": "grants",
    "usage": "usage",
    "refund": "refunds",
    "adjustment": "adjustments",
    "expire": "expiries",
    "reversal": "reversals",
}
ENTRY_COLUMNS = ("created_at", "local_date", "kind", "category", "model", "memo", "amount", "by")
TOKEN_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
)
"""A usage line's token figures (None on other lines), cache writes by lifetime."""


def category_of(kind: str, direction: str) -> str:
    if kind == "transfer":
        return "transfers_in" if direction == "in" else "transfers_out"
    return _BY_KIND.get(kind, "other")


@dataclass
class StatementLine:
    category: str
    model: str | None
    count: int
    amount_micros: int
    """Signed, from the subject's point of view: + money in, - money out."""
    tokens: UsageTokens | None = None
    """A usage line's tokens (None on other lines)."""

    @property
    def label(self) -> str:
        base = _LABELS[self.category]
        return f"{base}: {self.model}" if self.model else base

    def as_json(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "label": self.label,
            "model": self.model,
            "count": self.count,
            "amount": format_amount(self.amount_micros),
            "amount_micros": self.amount_micros,
            **(self.tokens.as_json() if self.tokens else dict.fromkeys(TOKEN_COLUMNS)),
        }


@dataclass(frozen=True)
class UsageTokens:
    """The tokens behind a usage line, cache writes by lifetime (priced apart: 5-minute writes
    at the cache-write price, 1-hour ones at the 1-hour price)."""

    input: int
    output: int
    cache_read: int
    cache_write_5m: int
    cache_write_1h: int

    @classmethod
    def of(cls, sums: tuple[int, int, int, int, int]) -> UsageTokens:
        """From (input, output, cache read, all cache writes, 1-hour cache writes)."""
        input_, output, read, write, write_1h = sums
        return cls(input_, output, read, write - write_1h, write_1h)

    def as_json(self) -> dict[str, int]:
        return {
            "input_tokens": self.input,
            "output_tokens": self.output,
            "cache_read_tokens": self.cache_read,
            "cache_write_5m_tokens": self.cache_write_5m,
            "cache_write_1h_tokens": self.cache_write_1h,
        }


@dataclass
class StatementAccount:
    account_id: uuid.UUID
    kind: str
    label: str
    opening_micros: int
    closing_micros: int

    def as_json(self) -> dict[str, Any]:
        return {
            "account_id": str(self.account_id),
            "kind": self.kind,
            "label": self.label,
            "opening": format_amount(self.opening_micros),
            "opening_micros": self.opening_micros,
            "closing": format_amount(self.closing_micros),
            "closing_micros": self.closing_micros,
        }


@dataclass
class Statement:
    subject: str
    """`user` or `group`."""
    subject_id: uuid.UUID
    subject_label: str
    currency: str
    time_zone: str
    since: datetime
    until: datetime
    generated_at: datetime
    accounts: list[StatementAccount]
    lines: list[StatementLine]
    opening_micros: int
    closing_micros: int
    ledger_balance_micros: int | None = None
    """The ledger's cached balance of the accounts, when the period ends at or after now."""
    totals: dict[str, int] = field(default_factory=dict)
    by_project: list[ProjectSpend] | None = None
    """With `by="project"`: the usage and refunds lines regrouped by project."""

    @property
    def by_project_reconciles(self) -> bool | None:
        """The project groups sum exactly to the usage and refunds lines."""
        if self.by_project is None:
            return None
        return sum(p.usage_micros for p in self.by_project) == self.category_total("usage") and sum(
            p.refunds_micros for p in self.by_project
        ) == self.category_total("refunds")

    @property
    def account_ids(self) -> list[uuid.UUID]:
        return [a.account_id for a in self.accounts]

    @property
    def reconciles(self) -> bool:
        moved = sum(line.amount_micros for line in self.lines)
        ok = self.opening_micros + moved == self.closing_micros
        if self.ledger_balance_micros is not None:
            ok = ok and self.closing_micros == self.ledger_balance_micros
        return ok

    def category_total(self, category: str) -> int:
        return sum(line.amount_micros for line in self.lines if line.category == category)

    def as_json(self) -> dict[str, Any]:
        tz = periods.zone(self.time_zone)
        by_category = [
            {
                "category": name,
                "label": label,
                "amount": format_amount(self.category_total(name)),
                "amount_micros": self.category_total(name),
            }
            for name, label in CATEGORIES
            if any(line.category == name for line in self.lines)
        ]
        return {
            "subject": self.subject,
            "subject_id": str(self.subject_id),
            "subject_label": self.subject_label,
            "currency": self.currency,
            "time_zone": self.time_zone,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "since_local": self.since.astimezone(tz).isoformat(),
            "until_local": self.until.astimezone(tz).isoformat(),
            "generated_at": self.generated_at.isoformat(),
            "opening_balance": format_amount(self.opening_micros),
            "opening_balance_micros": self.opening_micros,
            "closing_balance": format_amount(self.closing_micros),
            "closing_balance_micros": self.closing_micros,
            "ledger_balance": (
                None
                if self.ledger_balance_micros is None
                else format_amount(self.ledger_balance_micros)
            ),
            "ledger_balance_micros": self.ledger_balance_micros,
            "reconciles": self.reconciles,
            "lines": [line.as_json() for line in self.lines],
            "by_category": by_category,
            "accounts": [a.as_json() for a in self.accounts],
            "by_project": (
                None if self.by_project is None else [p.as_json() for p in self.by_project]
            ),
            "by_project_reconciles": self.by_project_reconciles,
            "method": (
                "Every figure is a sum of ledger postings on the accounts listed, over"
                f" [since, until) with date bounds at local midnight in {self.time_zone};"
                " opening balance + lines = closing balance."
            ),
        }


def merge_lines(lines: list[StatementLine]) -> list[StatementLine]:
    """One line per (category, model), in statement order (adjustment credits and debits net)."""
    merged: dict[tuple[str, str | None], StatementLine] = {}
    for line in lines:
        key = (line.category, line.model)
        found = merged.get(key)
        if found is None:
            merged[key] = StatementLine(line.category, line.model, line.count, line.amount_micros)
        else:
            found.count += line.count
            found.amount_micros += line.amount_micros
    return sorted(
        merged.values(), key=lambda x: (_ORDER[x.category], x.amount_micros, x.model or "")
    )
