"""Statements: what happened to a user's or a group's money over a period, from the ledger.

A user's statement covers their wallet and the allowance account of every package assignment
they held; a group's covers the group wallet. Every figure is a sum of ledger postings on
those accounts, so opening + Σ lines = closing exactly, and the closing balance of a period
that ends now equals the ledger's cached balance (`spectra ledger verify` checks that cache).
Period bounds typed as dates are local midnight in the workspace time zone.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from spectra.audit.actor import Actor
from spectra.db.session import AnySession
from spectra.kit.clock import utc_now
from spectra.kit.money import format_amount
from spectra.ledger.models import AccountKind
from spectra.usage import repository
from spectra.usage.by_project import check_by, spend_by_project
from spectra.usage.errors import (
    InvalidUsageFilterError,
    UsageGroupNotFoundError,
    UsageUserNotFoundError,
)
from spectra.usage.statement_view import (
    CATEGORIES,
    ENTRY_COLUMNS,
    TOKEN_COLUMNS,
    Statement,
    StatementAccount,
    StatementLine,
    UsageTokens,
    category_of,
    merge_lines,
)
from spectra.users import service as users_service
from spectra.users.permissions import Permission, PermissionDeniedError, allows, require
from spectra.users.scope import led_groups, require_read_user
from spectra.workspace import service as workspace_service

from . import periods

__all__ = [
    "CATEGORIES",
    "ENTRY_COLUMNS",
    "TOKEN_COLUMNS",
    "Statement",
    "StatementAccount",
    "StatementLine",
    "UsageTokens",
    "build_statement",
    "category_of",
    "iter_entries",
    "leads_subject",
    "resolve_period",
    "resolve_subject",
]

_PAGE = 1000


async def _may_read(
    session: AnySession, actor: Actor, *, user_id: uuid.UUID | None, group_id: uuid.UUID | None
) -> None:
    if allows(actor, Permission.READ_ALL):
        return
    require(actor, Permission.SELF)
    if user_id is not None and actor.user_id == user_id:
        return
    if group_id is not None and actor.user_id is not None:
        me = (await users_service.users_by_id(session, [actor.user_id])).get(actor.user_id)
        if me is not None and me.group_id == group_id:
            return
    if await leads_subject(session, actor, user_id=user_id, group_id=group_id):
        return
    raise PermissionDeniedError("You can only see your own statement and your group's.")


async def leads_subject(
    session: AnySession, actor: Actor, *, user_id: uuid.UUID | None, group_id: uuid.UUID | None
) -> bool:
    """Whether `actor` reads this user's or group's figures as its team lead: a group they
    lead, or a member of one (the role's refusal for another member, like an unknown one)."""
    led = await led_groups(session, actor)
    if not led:
        return False
    if group_id is not None:
        return group_id in led
    if user_id is not None:
        await require_read_user(session, actor, user_id)
        return True
    return False


async def resolve_subject(
    session: AnySession,
    actor: Actor,
    *,
    user_email: str | None = None,
    group_name: str | None = None,
    user_id: uuid.UUID | None = None,
    group_id: uuid.UUID | None = None,
) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """(user_id, group_id) from an email or a group name; exactly one must be named. Unknown
    names follow the users service's rule (403 to those who may not read everyone)."""
    owner = await users_service.resolve_owner(
        session,
        actor,
        user_email=user_email,
        group_name=group_name,
        user_id=user_id,
        group_id=group_id,
    )
    if (owner.user_id is None) == (owner.group_id is None):
        raise InvalidUsageFilterError("Name exactly one of a user or a group.")
    return owner.user_id, owner.group_id


async def _wallet(
    session: AnySession, kind: AccountKind, owner_id: uuid.UUID, label: str
) -> list[tuple[uuid.UUID, str, str]]:
    """The owner's wallet as a statement account (none when it has no wallet yet)."""
    ids = await repository.owned_account_ids(session, kind=kind, owner_ids=[owner_id])
    return [(a, kind.value, label) for a in ids]


async def _accounts(
    session: AnySession, *, user_id: uuid.UUID | None, group_id: uuid.UUID | None
) -> tuple[str, uuid.UUID, str, list[tuple[uuid.UUID, str, str]]]:
    out: list[tuple[uuid.UUID, str, str]] = []
    if user_id is not None:
        user = (await users_service.users_by_id(session, [user_id])).get(user_id)
        if user is None:
            raise UsageUserNotFoundError("That user does not exist.", user_id=str(user_id))
        out += await _wallet(session, AccountKind.USER_WALLET, user_id, "wallet")
        for account_id, package in (await repository.allowance_accounts(session, [user_id])).get(
            user_id, []
        ):
            out.append((account_id, AccountKind.ALLOWANCE.value, f"allowance: {package}"))
        return "user", user_id, user.email, out
    assert group_id is not None
    group = next((g for g in await repository.groups(session) if g.id == group_id), None)
    if group is None:
        raise UsageGroupNotFoundError("That group does not exist.", group_id=str(group_id))
    out += await _wallet(session, AccountKind.GROUP_WALLET, group_id, "group wallet")
    return "group", group_id, group.name, out


async def build_statement(
    session: AnySession,
    actor: Actor,
    *,
    user_id: uuid.UUID | None = None,
    group_id: uuid.UUID | None = None,
    since: datetime,
    until: datetime,
    by: str | None = None,
) -> Statement:
    """A user's or a group's statement over [since, until) (UTC instants; see `periods` for how
    typed dates become them); with `by="project"` also its usage and refunds per project.
    Members may read their own and their group's. Read-only."""
    await _may_read(session, actor, user_id=user_id, group_id=group_id)
    by = check_by(by)
    if since.tzinfo is None or until.tzinfo is None:
        raise InvalidUsageFilterError("A statement's bounds need a time zone.")
    if until <= since:
        raise InvalidUsageFilterError("The end of the period must be after its start.")
    settings = await workspace_service.get_settings(session)
    subject, subject_id, label, accounts = await _accounts(
        session, user_id=user_id, group_id=group_id
    )
    ids = [a for a, _, _ in accounts]
    opening = await repository.posted_before(session, ids, since)
    closing = await repository.posted_before(session, ids, until)
    lines = [
        StatementLine(
            category=category_of(row.kind, row.direction),
            model=row.model,
            count=int(row.count),
            amount_micros=int(row.amount or 0),
        )
        for row in await repository.movements(session, ids, since, until)
    ]
    lines = merge_lines(lines)
    tokens = await repository.usage_tokens(session, ids, since, until)
    for line in lines:
        if line.category == "usage" and line.model in tokens:
            line.tokens = UsageTokens.of(tokens[line.model])
    now = utc_now()
    ledger_balance = None
    if until >= now:
        ledger_balance = sum((await repository.cached_balances(session, ids)).values())
    return Statement(
        subject=subject,
        subject_id=subject_id,
        subject_label=label,
        currency=settings.currency,
        time_zone=settings.time_zone,
        since=since,
        until=until,
        generated_at=now,
        accounts=[
            StatementAccount(a, kind, name, opening.get(a, 0), closing.get(a, 0))
            for a, kind, name in accounts
        ],
        lines=lines,
        opening_micros=sum(opening.values()),
        closing_micros=sum(closing.values()),
        ledger_balance_micros=ledger_balance,
        by_project=(await spend_by_project(session, ids, since, until) if by else None),
    )


async def iter_entries(
    session: AnySession, statement: Statement, *, include_usage: bool = False
) -> AsyncIterator[dict[str, Any]]:
    """The statement's transactions one by one, oldest first, read in keyset pages.

    Usage transactions (one per request) are left out unless `include_usage`: the statement's
    lines already sum them per model.
    """
    tz = periods.zone(statement.time_zone)
    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        rows = await repository.statement_entries(
            session,
            statement.account_ids,
            statement.since,
            statement.until,
            after=after,
            limit=_PAGE,
        )
        for row in rows:
            if row.kind == "usage" and not include_usage:
                continue
            net = int(row.net or 0)
            yield {
                "transaction_id": str(row.id),
                "created_at": row.created_at.isoformat(),
                "local_date": periods.local_date(row.created_at, tz).isoformat(),
                "kind": row.kind,
                "category": category_of(row.kind, "in" if net >= 0 else "out"),
                "model": row.model if row.kind in ("usage", "refund") else None,
                "memo": row.memo,
                "amount": format_amount(net),
                "amount_micros": net,
                "by": row.actor_label,
            }
        if len(rows) < _PAGE:
            return
        after = (rows[-1].created_at, rows[-1].id)


async def resolve_period(
    session: AnySession, *, since: str | None, until: str | None, to_current_month: bool = False
) -> tuple[datetime, datetime]:
    """Typed bounds as UTC instants in the workspace time zone; the current calendar month by
    default. Given only `since`, the end is the end of that month, or with `to_current_month` the
    end of the current month (a range of months up to now)."""
    settings = await workspace_service.get_settings(session)
    tz = periods.zone(settings.time_zone)
    month_start, month_end = periods.month_bounds(utc_now(), tz)
    start = periods.parse_moment(since, tz, field="since") if since else month_start
    end = periods.parse_moment(until, tz, field="until") if until else None
    if end is None:
        end = (
            periods.next_month_start(periods.month_start(start, tz), tz)
            if since and not to_current_month
            else month_end
        )
    return start, end
