"""Reading the audit log with the auditor's permission: the audit domain sits below users and
cannot check roles itself, so these wrap its queries with `require(actor, AUDIT_READ)`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from spectra.audit import anchors as audit_anchors
from spectra.audit import export as audit_export
from spectra.audit import service as audit_service
from spectra.audit import verify as audit_verify
from spectra.audit.actor import Actor
from spectra.audit.models import AuditEvent
from spectra.audit.service import AuditFilter, ChainReport
from spectra.db.session import AnySession
from spectra.errors import InvalidError
from spectra.kit.listing import ListQuery
from spectra.kit.pagination import Page
from spectra.users.permissions import Permission, require

AuditQuery = AuditFilter


def _check(where: AuditFilter) -> None:
    if where.since is not None and where.until is not None and where.until <= where.since:
        raise InvalidError("The end of the time range must be after its start.", field="until")
    for name, value in (("since", where.since), ("until", where.until)):
        if isinstance(value, datetime) and value.tzinfo is None:
            raise InvalidError(f"{name} needs a time zone (e.g. 2026-11-01T00:00:00Z).", field=name)


async def list_audit_events(
    session: AnySession,
    actor: Actor,
    *,
    where: AuditFilter,
    limit: int | None = None,
    cursor: str | None = None,
    listing: ListQuery | None = None,
) -> Page[AuditEvent]:
    """Audit events matching `where`, newest first (auditors, admins, billing, owners); with
    `listing`, one offset page in its sort and text filter."""
    require(actor, Permission.AUDIT_READ)
    _check(where)
    return await audit_service.list_events(
        session, where=where, limit=limit, cursor=cursor, listing=listing
    )


async def export_audit_events(
    session: AnySession, actor: Actor, *, where: AuditFilter, fmt: audit_export.ExportFormat
) -> AsyncIterator[str]:
    """Check the permission now, then return the export's lines (oldest first), streamed.

    Not itself audited: it runs on a read-only session; reading the log changes nothing.
    """
    require(actor, Permission.AUDIT_READ)
    _check(where)
    if fmt not in audit_export.FORMATS:
        raise InvalidError(f"'{fmt}' is not an export format; use csv or jsonl.", field="format")
    return audit_export.lines(audit_service.stream_events(session, where=where), fmt)


async def count_audit_events(session: AnySession, actor: Actor, *, where: AuditFilter) -> int:
    require(actor, Permission.AUDIT_READ)
    _check(where)
    return await audit_service.count_events(session, where=where)


async def verify_audit_chain(session: AnySession, actor: Actor) -> ChainReport:
    """Walk the whole hash chain (streamed) and name the first event changed, removed or
    reordered, or missing after the end the latest anchor saw; anchor the head when intact."""
    require(actor, Permission.AUDIT_READ)
    anchor_log = audit_anchors.current()
    report = await audit_service.verify_chain(session, anchor_log=anchor_log)
    if report.ok and anchor_log is not None:
        await audit_verify.anchor_head(session, anchor_log)
    return report
