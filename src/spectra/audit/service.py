"""Record admin actions in the hash chain and verify the chain."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from spectra.audit.actor import Actor
from spectra.audit.chain import GENESIS, chain_hash, event_payload, scrub
from spectra.audit.models import AuditEvent
from spectra.errors import InvalidCursorError
from spectra.kit.clock import utc_now
from spectra.kit.pagination import Page, clamp_limit, decode_cursor, encode_cursor

_PG_CHAIN_LOCK = 7_202_611_001


async def record(
    session: AsyncSession,
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

    The chain is serialised: an advisory lock on PostgreSQL, the write lock on SQLite.
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
    digest = chain_hash(prev, event_payload(seq=seq, **fields))
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


@dataclass(frozen=True, slots=True)
class ChainProblem:
    event_id: int
    problem: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    checked: int
    problems: list[ChainProblem]

    @property
    def ok(self) -> bool:
        return not self.problems


def _payload_of(event: AuditEvent) -> dict[str, Any]:
    return event_payload(
        seq=event.id,
        occurred_at=event.occurred_at,
        actor_kind=event.actor_kind,
        actor_label=event.actor_label,
        actor_user_id=str(event.actor_user_id) if event.actor_user_id else None,
        action=event.action,
        target_type=event.target_type,
        target_id=event.target_id,
        target_label=event.target_label,
        before=event.before,
        after=event.after,
        details=event.details,
        request_id=event.request_id,
        client_ip=event.client_ip,
    )


def check_events(
    events: Iterable[AuditEvent], *, expected_prev: str = GENESIS, expected_seq: int = 1
) -> Iterable[ChainProblem | None]:
    """Yield a problem (or None) per event, walking the chain in order."""
    prev = expected_prev
    seq = expected_seq
    for event in events:
        problem: ChainProblem | None = None
        if event.id != seq:
            problem = ChainProblem(
                event.id, f"event {seq} is missing (next found is {event.id}): removed or reordered"
            )
        elif event.prev_hash != prev:
            problem = ChainProblem(
                event.id,
                "its link to the previous event is broken: an earlier event was changed, removed or reordered",
            )
        elif chain_hash(prev, _payload_of(event)) != event.hash:
            problem = ChainProblem(
                event.id, "its content does not match its hash: this event was changed"
            )
        yield problem
        prev = event.hash
        seq = event.id + 1


async def verify_chain(session: AsyncSession, *, batch: int = 5000) -> ChainReport:
    """Walk the whole chain in id order, streaming, and name the first event that breaks it."""
    checked = 0
    prev, seq = GENESIS, 1
    after_id = 0
    while True:
        rows = (
            (
                await session.execute(
                    select(AuditEvent)
                    .where(AuditEvent.id > after_id)
                    .order_by(AuditEvent.id)
                    .limit(batch)
                )
            )
            .scalars()
            .all()
        )
        if not rows:
            return ChainReport(checked=checked, problems=[])
        for event, problem in zip(
            rows, check_events(rows, expected_prev=prev, expected_seq=seq), strict=True
        ):
            checked += 1
            if problem is not None:
                return ChainReport(checked=checked, problems=[problem])
            prev, seq = event.hash, event.id + 1
        after_id = rows[-1].id
        session.expunge_all()


async def iter_events(
    session: AsyncSession, *, since: datetime | None = None
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


async def list_events(
    session: AsyncSession,
    *,
    where: AuditFilter,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[AuditEvent]:
    """Events matching `where`, newest first, in keyset pages over the chain order (id)."""
    size = clamp_limit(limit)
    stmt = _filtered(select(AuditEvent), where)
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


async def count_events(session: AsyncSession, *, where: AuditFilter) -> int:
    stmt = _filtered(select(AuditEvent), where).with_only_columns(func.count()).order_by(None)
    return int((await session.execute(stmt)).scalar_one())


async def stream_events(
    session: AsyncSession, *, where: AuditFilter, batch: int = 2000
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
