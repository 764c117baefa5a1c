"""Detection without per-request work: budget thresholds checked once per settlement batch (and
by a sweep), approvals waiting and keys expiring by a periodic job. Each finding is raised with
a dedupe key, so the same threshold in the same period alerts once, whichever process sees it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from spectra.alerts import repository as repo
from spectra.alerts import service
from spectra.alerts.catalogue import budget_dedupe_key, threshold_levels
from spectra.db.session import Session
from spectra.keys.models import MemberKey
from spectra.kit.money import format_amount
from spectra.ledger.models import ApprovalStatus, LedgerAccount, RechargeApproval, RechargeRequest
from spectra.packages.models import Package, PackageAssignment
from spectra.policy.counters import month_start
from spectra.policy.repository import spend_since
from spectra.pool.models import PoolAccount, PoolAccountTransition
from spectra.users.models import Group, User
from spectra.workspace.schemas import WorkspaceSettings

_DEGRADED = ("needs_attention", "failing")


@dataclass(frozen=True, slots=True)
class Touched:
    """What one settlement batch charged: groups, (member, home group) pairs, allowances."""

    group_ids: frozenset[uuid.UUID]
    members: frozenset[tuple[uuid.UUID, uuid.UUID]]
    allowance_accounts: frozenset[uuid.UUID]


def day_label(at: datetime, time_zone: str) -> str:
    local = at.astimezone(ZoneInfo(time_zone))
    return f"{local:%b} {local.day}"


def money_label(micros: int, settings: WorkspaceSettings) -> str:
    return f"{format_amount(micros)} {settings.currency}"


def _threshold_alert(
    event: str, subject_id: uuid.UUID, period: str, percent: int, **fields: object
) -> tuple[str, dict[str, object]]:
    """A budget event's crossing of one threshold as (dedupe key, `raise_alert` fields): the
    subject is the capped thing, the key says it fires once per period and threshold."""
    return (
        budget_dedupe_key(event, str(subject_id), period, percent),
        {
            "event": event,
            "subject_kind": event,
            "subject_id": str(subject_id),
            "threshold_percent": percent,
            **fields,
        },
    )


async def check_budgets(
    session: Session, touched: Touched, settings: WorkspaceSettings, now: datetime
) -> int:
    """Raise the budget thresholds that the touched groups, members and allowances reached this
    period and that have not alerted yet. Returns how many alerts were raised."""
    thresholds = settings.alert_threshold_list
    tz = settings.time_zone
    since = month_start(now, tz)
    resets = day_label(month_start(since + timedelta(days=32), tz), tz)
    period = since.date().isoformat()
    group_ids = set(touched.group_ids) | {g for _, g in touched.members}
    groups = {
        g.id: g
        for g in (
            await session.execute(select(Group).where(Group.id.in_(list(group_ids))))
        ).scalars()
    }
    capped = [g for g in touched.group_ids if g in groups and groups[g].monthly_cap_micros]
    members = [
        (u, g)
        for u, g in touched.members
        if g in groups and groups[g].member_monthly_cap_micros is not None
    ]
    candidates: list[tuple[str, dict[str, object]]] = []
    if capped or members:
        by_group, by_member = await spend_since(
            session, since, group_ids=capped, user_ids=[u for u, _ in members]
        )
        for gid in capped:
            group = groups[gid]
            cap = group.monthly_cap_micros or 0
            spent = by_group.get(gid, 0)
            for p in threshold_levels(spent, cap, thresholds):
                candidates.append(
                    _threshold_alert(
                        "group_cap",
                        gid,
                        period,
                        p,
                        group_id=gid,
                        title=f"Group {group.name} reached {p}% of its monthly cap",
                        message=f"{p}% of the {group.name} group's monthly cap is used "
                        f"({money_label(spent, settings)} of {money_label(cap, settings)}), "
                        f"it resets {resets}.",
                        data={"spent_micros": spent, "cap_micros": cap, "period": period},
                    )
                )
        emails = await _emails(session, [u for u, _ in members])
        for uid, gid in members:
            cap = groups[gid].member_monthly_cap_micros or 0
            spent = by_member.get(uid, 0)
            for p in threshold_levels(spent, cap, thresholds):
                candidates.append(
                    _threshold_alert(
                        "member_cap",
                        uid,
                        period,
                        p,
                        member_id=uid,
                        group_id=gid,
                        title=f"{emails.get(uid, uid)} reached {p}% of the member cap",
                        message=f"{p}% of your monthly spending cap is used "
                        f"({money_label(spent, settings)} of {money_label(cap, settings)}), "
                        f"it resets {resets}.",
                        data={"spent_micros": spent, "cap_micros": cap, "period": period},
                    )
                )
    candidates += await _allowance_candidates(session, touched.allowance_accounts, settings)
    return await raise_new(session, candidates, tz)


async def _allowance_candidates(
    session: Session, accounts: Iterable[uuid.UUID], settings: WorkspaceSettings
) -> list[tuple[str, dict[str, object]]]:
    ids = list(accounts)
    if not ids:
        return []
    rows = await session.execute(
        select(PackageAssignment, Package.name, LedgerAccount.balance_micros)
        .join(Package, Package.id == PackageAssignment.package_id)
        .join(LedgerAccount, LedgerAccount.id == PackageAssignment.allowance_account_id)
        .where(PackageAssignment.allowance_account_id.in_(ids))
    )
    from spectra.packages.models import PackagePeriod

    out: list[tuple[str, dict[str, object]]] = []
    for assignment, name, balance in rows.all():
        if assignment.period_index is None or assignment.period_starts_at is None:
            continue
        current = await session.scalar(
            select(PackagePeriod).where(
                PackagePeriod.assignment_id == assignment.id,
                PackagePeriod.period_index == assignment.period_index,
            )
        )
        if current is None or current.opening_micros <= 0:
            continue
        opening = current.opening_micros
        used = opening - balance
        period = assignment.period_starts_at.date().isoformat()
        resets = (
            f", it resets {day_label(assignment.period_ends_at, settings.time_zone)}"
            if assignment.period_ends_at
            else ""
        )
        for p in threshold_levels(used, opening, settings.alert_threshold_list):
            out.append(
                _threshold_alert(
                    "package_allowance",
                    assignment.id,
                    period,
                    p,
                    member_id=assignment.user_id,
                    title=f"{p}% of a {name} allowance is used",
                    message=f"{p}% of your {name} allowance is used{resets}.",
                    data={
                        "used_micros": used,
                        "allowance_micros": opening,
                        "package": name,
                        "period": period,
                    },
                )
            )
    return out


async def _emails(session: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = await session.execute(select(User.id, User.email).where(User.id.in_(ids)))
    return dict(rows.tuples().all())


async def raise_new(
    session: Session, candidates: list[tuple[str, dict[str, object]]], time_zone: str
) -> int:
    seen = await repo.existing_dedupe_keys(session, [k for k, _ in candidates])
    raised = 0
    for key, fields in candidates:
        if key in seen:
            continue
        alert = await service.raise_alert(
            session,
            dedupe_key=key,
            time_zone=time_zone,
            **fields,  # type: ignore[arg-type]
        )
        raised += alert is not None
    return raised


async def sweep_budgets(session: Session, settings: WorkspaceSettings, now: datetime) -> int:
    """Every capped group and its members, in one pass: catches a crossing that two concurrent
    batches each saw only half of."""
    since = month_start(now, settings.time_zone)
    capped = (
        (
            await session.execute(
                select(Group.id).where(
                    (Group.monthly_cap_micros.is_not(None))
                    | (Group.member_monthly_cap_micros.is_not(None))
                )
            )
        )
        .scalars()
        .all()
    )
    if not capped:
        return 0
    spenders = await session.execute(
        select(User.id, User.group_id).where(User.group_id.in_(list(capped)))
    )
    by_group, by_member = await spend_since(session, since, group_ids=list(capped))
    members = frozenset((u, g) for u, g in spenders.all() if by_member.get(u))
    touched = Touched(
        group_ids=frozenset(g for g in capped if by_group.get(g)),
        members=members,
        allowance_accounts=frozenset(),
    )
    return await check_budgets(session, touched, settings, now)


async def check_waiting(session: Session, settings: WorkspaceSettings, now: datetime) -> int:
    """Approvals and member recharge requests pending longer than the workspace setting
    `alert_approvals_waiting_hours`; one alert per waiting item."""
    before = now - timedelta(hours=settings.alert_approvals_waiting_hours)
    candidates: list[tuple[str, dict[str, object]]] = []
    for model, label in (
        (RechargeApproval, "an approval"),
        (RechargeRequest, "a recharge request"),
    ):
        rows = await session.execute(
            select(model.id, model.created_at).where(
                model.status == ApprovalStatus.PENDING, model.created_at < before
            )
        )
        for item_id, created in rows.all():
            hours = int((now - created).total_seconds() // 3600)
            candidates.append(
                (
                    f"approvals_waiting:{item_id}",
                    {
                        "event": "approvals_waiting",
                        "subject_kind": label.split(" ", 1)[1].replace(" ", "_"),
                        "subject_id": str(item_id),
                        "title": f"{label.capitalize()} has waited {hours} hours",
                        "message": f"{label.capitalize()} ({item_id}) has been waiting for "
                        f"{hours} hours; "
                        "approve or reject it on the Recharges page.",
                        "data": {"hours": hours},
                    },
                )
            )
    return await raise_new(session, candidates, settings.time_zone)


async def check_keys_expiring(session: Session, settings: WorkspaceSettings, now: datetime) -> int:
    """Active member keys whose expiry falls within the workspace setting
    `alert_key_expiring_days`; one alert per key and expiry, to the key's owner and the admins."""
    horizon = now + timedelta(days=settings.alert_key_expiring_days)
    rows = await session.execute(
        select(MemberKey).where(
            MemberKey.status == "active",
            MemberKey.expires_at.is_not(None),
            MemberKey.expires_at > now,
            MemberKey.expires_at <= horizon,
        )
    )
    candidates: list[tuple[str, dict[str, object]]] = []
    for key in rows.scalars():
        assert key.expires_at is not None
        when = day_label(key.expires_at, settings.time_zone)
        label = key.name or key.prefix
        candidates.append(
            (
                f"key_expiring:{key.id}:{key.expires_at.isoformat()}",
                {
                    "event": "key_expiring",
                    "subject_kind": "key",
                    "subject_id": str(key.id),
                    "member_id": key.user_id,
                    "title": f"Key {label} expires {when}",
                    "message": f"Your key {label} expires {when}; create a new one on the "
                    "Keys page before then.",
                    "data": {"expires_at": key.expires_at.isoformat()},
                },
            )
        )
    return await raise_new(session, candidates, settings.time_zone)


async def check_pool(session: Session, settings: WorkspaceSettings, now: datetime) -> int:
    """Accounts that need an admin (auth failed, quota exhausted) or keep failing: one alert per
    account per entry into that state."""
    rows = await session.execute(
        select(PoolAccount, func.max(PoolAccountTransition.id))
        .join(PoolAccountTransition, PoolAccountTransition.account_id == PoolAccount.id)
        .where(
            PoolAccount.state.in_(_DEGRADED),
            PoolAccountTransition.to_state == PoolAccount.state,
        )
        .group_by(PoolAccount.id)
    )
    candidates: list[tuple[str, dict[str, object]]] = []
    for account, transition_id in rows.all():
        needs = account.state == "needs_attention"
        what = "needs attention" if needs else "is failing"
        candidates.append(
            (
                f"pool_degraded:{account.id}:{transition_id}",
                {
                    "event": "pool_degraded",
                    "subject_kind": "pool_account",
                    "subject_id": str(account.id),
                    "title": f"Pool account {account.name} {what}",
                    "message": f"The pool account {account.name} {what}: "
                    f"{account.state_reason or account.state}. Open it on the Pool page.",
                    "data": {"state": account.state, "reason": account.state_reason},
                },
            )
        )
    return await raise_new(session, candidates, settings.time_zone)


async def wallet_low(
    session: Session, notices: Sequence[dict[str, Any]], settings: WorkspaceSettings
) -> int:
    """The ledger's low-balance notices as `wallet_low` alerts (one per notice): the member sees
    their own wallet's, owners and admins every one."""
    accounts = {
        a.id: a
        for a in (
            await session.execute(
                select(LedgerAccount).where(
                    LedgerAccount.id.in_([n["account_id"] for n in notices])
                )
            )
        ).scalars()
    }
    candidates: list[tuple[str, dict[str, object]]] = []
    for notice in notices:
        account = accounts.get(notice["account_id"])
        if account is None:
            continue
        is_user = account.kind == "user_wallet"
        balance = money_label(notice["balance_micros"], settings)
        threshold = money_label(notice["threshold_micros"], settings)
        whose = "Your wallet" if is_user else "The group wallet"
        candidates.append(
            (
                f"wallet_low:{notice['id']}",
                {
                    "event": "wallet_low",
                    "subject_kind": account.kind,
                    "subject_id": str(account.id),
                    "member_id": account.owner_id if is_user else None,
                    "group_id": account.owner_id if not is_user else None,
                    "title": f"A wallet fell below {threshold}",
                    "message": f"{whose} balance is {balance}, below {threshold}.",
                    "data": {
                        "balance_micros": notice["balance_micros"],
                        "threshold_micros": notice["threshold_micros"],
                        "transaction_id": str(notice["transaction_id"]),
                    },
                },
            )
        )
    return await raise_new(session, candidates, settings.time_zone)
