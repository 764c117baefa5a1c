"""Verify the chain: every link, every keyed hash, and agreement with the anchors kept outside
the database (which catch events deleted from the end and a chain rewritten whole); anchor a
verified head."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from spectra.audit.anchors import Anchor, AnchorLog, sign
from spectra.audit.anchors import latest as newest
from spectra.audit.chain import GENESIS, chain_hash, event_payload
from spectra.audit.models import AuditChainState, AuditEvent
from spectra.db.serverkey import get_server_keys
from spectra.kit.clock import utc_now


@dataclass(frozen=True, slots=True)
class ChainProblem:
    event_id: int
    problem: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    checked: int
    problems: list[ChainProblem]
    head: int = 0
    """The newest event id found (0 for an empty chain)."""
    anchor: Anchor | None = None
    """The latest anchor the chain was compared with, if any."""

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class _Walk:
    key: bytes
    legacy_until: int
    anchors: dict[int, Anchor] = field(default_factory=dict)
    prev: str = GENESIS
    seq: int = 1
    checked: int = 0


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


def _check_one(
    event: AuditEvent, *, prev: str, seq: int, key: bytes, legacy_until: int
) -> ChainProblem | None:
    if event.id != seq:
        return ChainProblem(
            event.id, f"event {seq} is missing (next found is {event.id}): removed or reordered"
        )
    if event.prev_hash != prev:
        return ChainProblem(
            event.id,
            "its link to the previous event is broken: an earlier event was changed, removed or reordered",
        )
    payload = _payload_of(event)
    legacy = event.id <= legacy_until
    if chain_hash(prev, payload, key=None if legacy else key) == event.hash:
        return None
    if not legacy and chain_hash(prev, payload, key=None) == event.hash:
        return ChainProblem(
            event.id,
            "its hash is plain SHA-256, not keyed with this server's secret: the chain was "
            "rewritten by someone without the key",
        )
    return ChainProblem(event.id, "its content does not match its hash: this event was changed")


def _check_anchor(event: AuditEvent, anchor: Anchor | None) -> ChainProblem | None:
    if anchor is None or anchor.hash == event.hash:
        return None
    return ChainProblem(
        event.id,
        f"it does not match {anchor.label}, which saw another hash for it: the chain was "
        "rewritten from here on",
    )


def _missing_at_end(head: int, latest: Anchor | None) -> ChainProblem | None:
    if latest is None or latest.seq <= head:
        return None
    first = head + 1
    what = f"event {first} is" if first == latest.seq else f"events {first}–{latest.seq} are"
    return ChainProblem(first, f"{what} missing: {latest.label} saw head {latest.seq}")


async def _legacy_until(session: AsyncSession, anchors: Iterable[Anchor]) -> int:
    """How many events predate the keyed chain: the smallest of the database's number (0 when
    its row is absent) and every anchor's, so raising it in the database is caught."""
    value = (
        await session.execute(select(AuditChainState.legacy_until).where(AuditChainState.id == 1))
    ).scalar_one_or_none()
    return min([int(value or 0), *(a.legacy_until for a in anchors)])


async def verify_chain(
    session: AsyncSession,
    *,
    batch: int = 5000,
    anchor_log: AnchorLog | None = None,
    start: Anchor | None = None,
) -> ChainReport:
    """Walk the chain in id order, streaming, and name the first event that breaks it.

    With `anchor_log`, also check each anchored event's hash, name the events missing after
    the chain's end, and refuse an anchor log with a forged or altered line. With `start` (a
    trusted anchor), walk only the events after it.
    """
    anchors: list[Anchor] = []
    if anchor_log is not None:
        read = anchor_log.read()
        if read.bad_lines:
            number, why = read.bad_lines[0]
            where = f"the anchor log {anchor_log.path}"
            if number:
                where = f"line {number} of {where}"
            return ChainReport(checked=0, problems=[ChainProblem(0, f"{where}: {why}")])
        anchors = read.anchors
    latest = newest(anchors)
    walk = _Walk(
        key=get_server_keys().audit_chain_key,
        legacy_until=await _legacy_until(session, anchors),
    )
    for anchor in sorted(anchors, key=lambda a: a.at):
        walk.anchors[anchor.seq] = anchor
    after_id = 0
    first = None if start is None else await session.get(AuditEvent, start.seq)
    if start is not None and first is not None:
        problem = _check_anchor(first, start)
        if problem is not None:
            return ChainReport(checked=0, problems=[problem], head=first.id, anchor=latest)
        walk.prev, walk.seq, after_id = start.hash, start.seq + 1, start.seq
    # (An anchored event that is gone: walk the whole chain to name exactly what is missing.)
    head = after_id
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
            break
        for event in rows:
            walk.checked += 1
            problem = _check_one(
                event, prev=walk.prev, seq=walk.seq, key=walk.key, legacy_until=walk.legacy_until
            ) or _check_anchor(event, walk.anchors.get(event.id))
            if problem is not None:
                return ChainReport(
                    checked=walk.checked, problems=[problem], head=event.id, anchor=latest
                )
            walk.prev, walk.seq = event.hash, event.id + 1
        after_id = head = rows[-1].id
        session.expunge_all()
    missing = _missing_at_end(head, latest)
    return ChainReport(
        checked=walk.checked,
        problems=[missing] if missing else [],
        head=head,
        anchor=latest,
    )


async def anchor_head(session: AsyncSession, anchor_log: AnchorLog) -> Anchor | None:
    """Anchor the chain's head when it moved since the latest anchor, after checking the events
    since that anchor (a broken or shortened chain is never anchored: it is logged instead).
    Returns the new anchor, or None."""
    read = anchor_log.read()
    latest = read.latest
    head = (
        await session.execute(
            select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
        )
    ).first()
    if head is None and latest is None:
        return None
    if latest is not None and head is not None and (latest.seq, latest.hash) == tuple(head):
        return None
    report = await verify_chain(session, anchor_log=anchor_log, start=latest)
    if not report.ok:
        await anchor_log.alert(report.problems[0].event_id, report.problems[0].problem)
        return None
    assert head is not None  # an empty chain under an anchor is reported missing above
    legacy = min(await _legacy_until(session, read.anchors), head[0])
    anchor = sign(anchor_log.key, seq=head[0], hash=head[1], at=utc_now(), legacy_until=legacy)
    await anchor_log.append(anchor)
    return anchor
