"""`spectra ledger verify`: recompute every balance from postings and check every invariant.

Checks: each transaction has two or more postings summing to zero; each cached balance equals
the sum of its account's postings; refunds of a usage never exceed it; the codes_outstanding
balance equals the value of codes neither redeemed nor revoked; each redeemed code and each
approved recharge points at its transaction; no cached balance or posting lies beyond
±MAX_BALANCE_MICROS (such a row is reported, and left out of the sums, never a crash).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from spectra.kit.money import MAX_BALANCE_MICROS, format_amount
from spectra.ledger.models import (
    AccountKind,
    ApprovalStatus,
    CodeBatch,
    CodeStatus,
    LedgerAccount,
    LedgerPosting,
    LedgerTransaction,
    RechargeApproval,
    RedemptionCode,
    TransactionKind,
)


@dataclass(frozen=True, slots=True)
class Disagreement:
    check: str
    subject: str
    message: str


@dataclass
class VerifyReport:
    accounts: int = 0
    transactions: int = 0
    postings: int = 0
    problems: list[Disagreement] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def verify_ledger(session: AsyncSession) -> VerifyReport:
    """Check the whole ledger; every disagreement is named in the report."""
    report = VerifyReport()
    if await _out_of_range(session, report):
        return report
    try:
        async with session.begin_nested():
            await _verify_sums(session, report)
    except DBAPIError as exc:
        report.problems.append(
            Disagreement("range", "ledger", f"the database could not sum the postings: {exc.orig}")
        )
    return report


async def _out_of_range(session: AsyncSession, report: VerifyReport) -> bool:
    """Report every cached balance and posting beyond the bound (SQLite stores an overflowed
    integer as a float); True when there is any, since sums over them are meaningless."""
    found = False
    accounts = await session.execute(
        select(LedgerAccount.id, LedgerAccount.balance_micros).where(
            or_(
                LedgerAccount.balance_micros > MAX_BALANCE_MICROS,
                LedgerAccount.balance_micros < -MAX_BALANCE_MICROS,
            )
        )
    )
    for account_id, cached in accounts.all():
        found = True
        report.problems.append(
            Disagreement(
                "range",
                f"account {account_id}",
                f"account {account_id} caches {cached!r} micros, beyond ±{MAX_BALANCE_MICROS}",
            )
        )
    postings = await session.execute(
        select(LedgerPosting.id, LedgerPosting.transaction_id, LedgerPosting.amount_micros).where(
            or_(
                LedgerPosting.amount_micros >= MAX_BALANCE_MICROS,
                LedgerPosting.amount_micros <= -MAX_BALANCE_MICROS,
            )
        )
    )
    for posting_id, txn_id, amount in postings.all():
        found = True
        report.problems.append(
            Disagreement(
                "range",
                f"transaction {txn_id}",
                f"posting {posting_id} of transaction {txn_id} moves {amount!r} micros, beyond the bound",
            )
        )
    return found


async def _verify_sums(session: AsyncSession, report: VerifyReport) -> None:
    report.transactions = int(
        (await session.execute(select(func.count()).select_from(LedgerTransaction))).scalar_one()
    )
    report.postings = int(
        (await session.execute(select(func.count()).select_from(LedgerPosting))).scalar_one()
    )

    sums = (
        await session.execute(
            select(
                LedgerTransaction.id,
                func.count(LedgerPosting.id),
                func.coalesce(func.sum(LedgerPosting.amount_micros), 0),
            )
            .outerjoin(LedgerPosting, LedgerPosting.transaction_id == LedgerTransaction.id)
            .group_by(LedgerTransaction.id)
            .having(
                (func.count(LedgerPosting.id) < 2)
                | (func.coalesce(func.sum(LedgerPosting.amount_micros), 0) != 0)
            )
        )
    ).all()
    for txn_id, count, total in sums:
        if count < 2:
            report.problems.append(
                Disagreement(
                    "zero_sum",
                    f"transaction {txn_id}",
                    f"transaction {txn_id} has {count} posting(s); it needs at least two",
                )
            )
        if int(total) != 0:
            report.problems.append(
                Disagreement(
                    "zero_sum",
                    f"transaction {txn_id}",
                    f"transaction {txn_id} postings sum to {format_amount(int(total))}, not zero",
                )
            )

    posted = func.coalesce(func.sum(LedgerPosting.amount_micros), 0)
    rows = (
        await session.execute(
            select(
                LedgerAccount.id,
                LedgerAccount.kind,
                LedgerAccount.owner_id,
                LedgerAccount.balance_micros,
                posted,
            )
            .outerjoin(LedgerPosting, LedgerPosting.account_id == LedgerAccount.id)
            .group_by(
                LedgerAccount.id,
                LedgerAccount.kind,
                LedgerAccount.owner_id,
                LedgerAccount.balance_micros,
            )
        )
    ).all()
    report.accounts = len(rows)
    outstanding_balance = 0
    for account_id, kind, owner_id, cached, total in rows:
        if kind == AccountKind.CODES_OUTSTANDING:
            outstanding_balance = int(cached)
        if int(cached) != int(total):
            name = f"{kind} {owner_id}" if owner_id else kind
            report.problems.append(
                Disagreement(
                    "balance",
                    f"account {account_id}",
                    f"account {account_id} ({name}) caches {format_amount(int(cached))} but its postings sum to "
                    f"{format_amount(int(total))}",
                )
            )

    refunded = (
        await session.execute(
            select(LedgerTransaction.reverses_id, func.sum(LedgerPosting.amount_micros))
            .join(
                LedgerPosting,
                and_(
                    LedgerPosting.transaction_id == LedgerTransaction.id,
                    LedgerPosting.amount_micros < 0,
                ),
            )
            .where(LedgerTransaction.kind == TransactionKind.REFUND)
            .group_by(LedgerTransaction.reverses_id)
        )
    ).all()
    for original_id, back in refunded:
        charged = (
            await session.execute(
                select(func.coalesce(func.sum(LedgerPosting.amount_micros), 0)).where(
                    LedgerPosting.transaction_id == original_id, LedgerPosting.amount_micros > 0
                )
            )
        ).scalar_one()
        if -int(back) > int(charged):
            report.problems.append(
                Disagreement(
                    "refund",
                    f"transaction {original_id}",
                    f"usage {original_id} was refunded {format_amount(-int(back))}, more than its {format_amount(int(charged))}",
                )
            )

    open_value = int(
        (
            await session.execute(
                select(func.coalesce(func.sum(CodeBatch.value_micros), 0))
                .select_from(RedemptionCode)
                .join(CodeBatch, CodeBatch.id == RedemptionCode.batch_id)
                .where(RedemptionCode.status == CodeStatus.UNUSED)
            )
        ).scalar_one()
    )
    if open_value != outstanding_balance:
        report.problems.append(
            Disagreement(
                "codes",
                "codes_outstanding",
                f"codes_outstanding holds {format_amount(outstanding_balance)} but unused codes are worth "
                f"{format_amount(open_value)}",
            )
        )
    for (code_id,) in (
        await session.execute(
            select(RedemptionCode.id).where(
                RedemptionCode.status == CodeStatus.REDEEMED,
                RedemptionCode.transaction_id.is_(None),
            )
        )
    ).all():
        report.problems.append(
            Disagreement(
                "codes", f"code {code_id}", f"code {code_id} is redeemed but has no transaction"
            )
        )
    for (approval_id,) in (
        await session.execute(
            select(RechargeApproval.id).where(
                RechargeApproval.status == ApprovalStatus.APPROVED,
                RechargeApproval.transaction_id.is_(None),
            )
        )
    ).all():
        report.problems.append(
            Disagreement(
                "approvals",
                f"approval {approval_id}",
                f"approval {approval_id} is approved but credited nothing",
            )
        )
