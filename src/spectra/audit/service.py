"""Record admin actions in the hash chain and verify the chain."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Select, func, select, text

from spectra.audit.actor import Actor
from spectra.audit.chain import GENESIS, chain_hash, event_payload, scrub
from spectra.audit.models import AuditEvent
from spectra.audit.verify import ChainReport as ChainReport
from spectra.audit.verify import verify_chain as verify_chain
from spectra.db.listing import Sorting, page_sorted
from spectra.db.serverkey import get_server_keys
from spectra.db.session import AnySession, Session
from spectra.errors import InvalidCursorError
from spectra.kit.clock import utc_now
from spectra.kit.listing import ListQuery
from spectra.kit.pagination import Page, clamp_limit, decode_cursor, encode_cursor

_PG_CHAIN_LOCK = 7_202_611_001


class Named(Protocol):
    """A row an action is about that has an id and a name (a group, an account, a rollout...)."""

    @property
    def id(self) -> object: ...

    @property
    def name(self) -> str: ...


async def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    target_type: str | None = None,
    target_id: object | None = None,
    target_label: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    **details: Any,
) -> AuditEvent:
    """Append one audit event in the caller's transaction. Secret-named fields are redacted.

    The chain is serialised: an advisory lock on PostgreSQL, the write lock on SQLite. The
    hash is keyed with the server's audit-chain subkey.
    """
    if session.bind is not None and session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_CHAIN_LOCK})
    last = (
        await session.execute(
            select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
        )
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    occurred_at = utc_now()
    fields: dict[str, Any] = {
        "occurred_at": occurred_at,
        "actor_kind": str(actor.kind),
        "actor_label": actor.label,
        "actor_user_id": str(actor.user_id) if actor.user_id else None,
        "action": action,
        "target_type": target_type,
        "target_id": None if target_id is None else str(target_id),
        "target_label": target_label,
        "before": scrub(before) if before is not None else None,
        "after": scrub(after) if after is not None else None,
        "details": scrub(details) if details else None,
        "request_id": actor.request_id,
        "client_ip": actor.client_ip,
    }
    digest = chain_hash(
        prev, event_payload(seq=seq, **fields), key=get_server_keys().audit_chain_key
    )
    event = AuditEvent(
        id=seq,
        prev_hash=prev,
        hash=digest,
        actor_user_id=actor.user_id,
        **{k: v for k, v in fields.items() if k != "actor_user_id"},
    )
    session.add(event)
    await session.flush()
    return event


async def record_on(
    session: Session,
    actor: Actor,
    action: str,
    target_type: str,
    target: Named,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    **details: Any,
) -> AuditEvent:
    """`record` an action about a named row: its id and name are the event's target."""
    return await record(
        session,
        actor,
        action,
        target_type=target_type,
        target_id=target.id,
        target_label=target.name,
        before=before,
        after=after,
        **details,
    )


async def iter_events(
    session: AnySession, *, since: datetime | None = None
) -> AsyncIterator[AuditEvent]:
    stmt = select(AuditEvent).order_by(AuditEvent.id)
    if since is not None:
        stmt = stmt.where(AuditEvent.occurred_at >= since)
    result = await session.stream_scalars(stmt.execution_options(yield_per=2000))
    async for event in result:
        yield event


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which events to read. `action` is exact, or a prefix when it ends in `*` (`ledger.*`)."""

    actor: str | None = None
    """An actor label (email, `local:<os user>`, `system`, `gateway`) or a user id."""
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    """Inclusive lower bound on `occurred_at` (UTC)."""
    until: datetime | None = None
    """Exclusive upper bound on `occurred_at` (UTC)."""


def _escape_like(text_: str) -> str:
    return text_.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filtered(stmt: Select[AuditEvent], where: AuditFilter) -> Select[AuditEvent]:
    if where.actor:
        try:
            stmt = stmt.where(AuditEvent.actor_user_id == uuid.UUID(where.actor))
        except ValueError:
            stmt = stmt.where(AuditEvent.actor_label == where.actor)
    if where.action:
        if where.action.endswith("*"):
            prefix = where.action.rstrip("*")
            if prefix:
                stmt = stmt.where(AuditEvent.action.like(_escape_like(prefix) + "%", escape="\\"))
        else:
            stmt = stmt.where(AuditEvent.action == where.action)
    if where.target_type:
        stmt = stmt.where(AuditEvent.target_type == where.target_type)
    if where.target_id:
        stmt = stmt.where(AuditEvent.target_id == where.target_id)
    if where.since is not None:
        stmt = stmt.where(AuditEvent.occurred_at >= where.since)
    if where.until is not None:
        stmt = stmt.where(AuditEvent.occurred_at < where.until)
    return stmt


EVENT_SORTING = Sorting(
    keys={
        "id": AuditEvent.id,
        "occurred_at": AuditEvent.occurred_at,
        "who": func.lower(AuditEvent.actor_label),
        "action": AuditEvent.action,
        "target": func.lower(
            func.coalesce(AuditEvent.target_type, "")
            + " "
            + func.coalesce(AuditEvent.target_label, "")
        ),
    },
    default="-id",
    tiebreak=AuditEvent.id,
    search=(
        AuditEvent.actor_label,
        AuditEvent.action,
        AuditEvent.target_type,
        AuditEvent.target_label,
        AuditEvent.before,
        AuditEvent.after,
    ),
)
"""The audit log's table: its sort keys, newest first by default, filtered by who, action,
target or the text of what changed."""


async def list_events(
    session: AnySession,
    *,
    where: AuditFilter,
    limit: int | None = None,
    cursor: str | None = None,
    listing: ListQuery | None = None,
) -> Page[AuditEvent]:
    """Events matching `where`, newest first, in keyset pages over the chain order (id); with
    `listing`, one offset page in its sort and text filter (the console's table)."""
    size = clamp_limit(limit)
    stmt = _filtered(select(AuditEvent), where)
    if listing is not None:
        return await page_sorted(session, stmt, listing, EVENT_SORTING)
    if cursor:
        values = decode_cursor(cursor)
        if len(values) != 1 or not isinstance(values[0], int):
            raise InvalidCursorError(
                "The cursor is not one Spectra gave out; start from the first page."
            )
        stmt = stmt.where(AuditEvent.id < values[0])
    rows = list(
        (await session.execute(stmt.order_by(AuditEvent.id.desc()).limit(size + 1))).scalars()
    )
    next_cursor = None
    if len(rows) > size:
        rows = rows[:size]
        next_cursor = encode_cursor([rows[-1].id])
    return Page(items=rows, next_cursor=next_cursor)


async def count_events(session: AnySession, *, where: AuditFilter) -> int:
    stmt = _filtered(select(AuditEvent), where).with_only_columns(func.count()).order_by(None)
    return int((await session.execute(stmt)).scalar_one())


async def stream_events(
    session: AnySession, *, where: AuditFilter, batch: int = 2000
) -> AsyncIterator[AuditEvent]:
    """Events matching `where`, oldest first, read in keyset batches (never all at once)."""
    after_id = 0
    while True:
        stmt = _filtered(select(AuditEvent), where).where(AuditEvent.id > after_id)
        rows = list((await session.execute(stmt.order_by(AuditEvent.id).limit(batch))).scalars())
        if not rows:
            return
        for event in rows:
            yield event
        after_id = rows[-1].id
        session.expunge_all()
