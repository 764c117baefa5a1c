"""Usage records (written by settlement, listed with their access rule); the prices live in
`prices` (re-exported here: callers use `usage_service.set_price` and friends)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

from spectra.audit.actor import Actor
from spectra.db import events
from spectra.db.session import AnySession, Session
from spectra.kit.clock import utc_now
from spectra.kit.ids import uuid7
from spectra.kit.listing import ListQuery
from spectra.kit.pagination import Page
from spectra.usage import repository
from spectra.usage.clients import CLIENT_FAMILIES
from spectra.usage.errors import InvalidUsageFilterError
from spectra.usage.events import UsageBatchRecorded
from spectra.usage.models import USAGE_STATUSES, UsageRecord
from spectra.usage.prices import PRICES_CHANGE, get_price, list_prices, set_price
from spectra.usage.schemas import UsageRecordCreate
from spectra.usage.statements import leads_subject
from spectra.users import service as users_service
from spectra.users.permissions import Permission, allows, require
from spectra.users.scope import led_groups

__all__ = [
    "PRICES_CHANGE",
    "get_price",
    "list_prices",
    "list_usage",
    "record_usage",
    "record_usage_batch",
    "set_price",
]


_RECORD_FIELDS = tuple(f.name for f in fields(UsageRecordCreate))


def _row(record: UsageRecordCreate, now: datetime) -> dict[str, Any]:
    values = {name: getattr(record, name) for name in _RECORD_FIELDS}
    values["funding"] = [source.as_json() for source in record.funding]
    values["id"] = record.id or uuid7()
    values["created_at"] = record.created_at or now
    return values


async def record_usage(session: Session, *, record: UsageRecordCreate) -> UsageRecord:
    """Write one usage record (no actor, no audit: settlement writes it beside its postings)."""
    values = _row(record, utc_now())
    row = UsageRecord(**values)
    session.add(row)
    await session.flush()
    return row


async def record_usage_batch(
    session: Session, records: Sequence[UsageRecordCreate]
) -> list[uuid.UUID]:
    """Write many usage records in one multi-row INSERT; returns their ids in order.

    For the gateway's group committer: no ORM objects, no per-row flush.
    """
    now = utc_now()
    rows = [_row(record, now) for record in records]
    await repository.insert_records(session, rows)
    await events.publish(session, UsageBatchRecorded(records))
    return [row["id"] for row in rows]


async def list_usage(
    session: AnySession,
    actor: Actor,
    *,
    user_id: uuid.UUID | None = None,
    user_email: str | None = None,
    group_id: uuid.UUID | None = None,
    group_name: str | None = None,
    key_id: uuid.UUID | None = None,
    model: str | None = None,
    account_id: uuid.UUID | None = None,
    client: str | None = None,
    status: str | None = None,
    refusal_reason: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    cursor: str | None = None,
    listing: ListQuery | None = None,
) -> Page[UsageRecord]:
    """Usage records, newest first. Members see only their own; admins, auditors, billing all.
    With `listing`, one offset page in its sort and text filter (the console's table).

    `user_email` names the user by email instead of id. The page's `extra["emails"]` maps the
    user ids on the page to emails, for display.
    """
    if user_email is not None or group_name is not None:
        owner = await users_service.resolve_owner(
            session, actor, user_email=user_email, group_name=group_name
        )
        user_id = owner.user_id or user_id
        group_id = owner.group_id or group_id
    for label, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise InvalidUsageFilterError(
                f"{label} needs a time zone (e.g. 2026-12-01T00:00:00Z).", field=label
            )
    if (
        not allows(actor, Permission.READ_ALL)
        and ((user_id is not None and user_id != actor.user_id) or group_id is not None)
        and await led_groups(session, actor)
    ):
        # a team lead: a group they lead, or a member of one (the role's refusal otherwise)
        if not await leads_subject(session, actor, user_id=user_id, group_id=group_id):
            require(actor, Permission.READ_ALL)
    elif not allows(actor, Permission.READ_ALL):
        require(actor, Permission.SELF)
        if actor.user_id is None:
            require(actor, Permission.READ_ALL)
        if user_id is not None and user_id != actor.user_id:
            require(actor, Permission.READ_ALL)
        user_id = actor.user_id
    if client is not None and client not in CLIENT_FAMILIES:
        raise InvalidUsageFilterError(
            f"Unknown client '{client}'; use one of {', '.join(CLIENT_FAMILIES)}.", client=client
        )
    if status is not None and status not in USAGE_STATUSES:
        raise InvalidUsageFilterError(
            f"Unknown status '{status}'; use one of {', '.join(USAGE_STATUSES)}.", status=status
        )
    if since is not None and until is not None and until <= since:
        raise InvalidUsageFilterError("The end of the time range must be after its start.")
    stmt = repository.usage_query(
        user_id=user_id,
        group_id=group_id,
        key_id=key_id,
        model=model,
        account_id=account_id,
        client=client,
        status=status,
        refusal_reason=refusal_reason,
        since=since,
        until=until,
    )
    page = await repository.page_usage(session, stmt, limit=limit, cursor=cursor, listing=listing)
    page.extra["emails"] = await users_service.user_emails(session, [r.user_id for r in page.items])
    return page
