"""Key budgets and budget extensions: set, clear, read; ask for, approve and reject an
extension. Each change writes its audit event and a `budgets.*` change in one transaction, so
every gateway applies it within a second.

`from spectra.budgets import service as budgets_service`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db.changes import record_change
from spectra.db.session import AnySession, Session
from spectra.keys import service as keys_service
from spectra.keys.models import MemberKey
from spectra.keys.rules import clean_scopes
from spectra.kit.clock import utc_now
from spectra.kit.listing import ListQuery
from spectra.kit.money import format_amount
from spectra.kit.pagination import Page
from spectra.usage.clients import CLIENT_FAMILIES
from spectra.users.permissions import Permission, ReadOnlyTokenError, allows, require
from spectra.users.scope import (
    deny,
    lead_groups_over,
    led_groups,
    member_ids_in,
    require_over,
    require_within_limit,
    scope_for,
)

from . import repository
from .errors import (
    ExtensionDecidedError,
    ExtensionNotApplicableError,
    ExtensionNotFoundError,
    ExtensionSelfApprovalError,
    InvalidBudgetError,
    KeyBudgetNotFoundError,
)
from .models import BudgetExtension, KeyBudget
from .projects import get_project, is_member
from .schemas import KeyBudgetChange

KEY_BUDGET_CHANGE = "budgets.key"
EXTENSION_CHANGE = "budgets.extension"
_AMOUNTS = {"day": "day_micros", "week": "week_micros", "month": "month_micros"}


def _view(row: KeyBudget) -> dict[str, Any]:
    return {
        "day": None if row.day_micros is None else format_amount(row.day_micros),
        "week": None if row.week_micros is None else format_amount(row.week_micros),
        "month": None if row.month_micros is None else format_amount(row.month_micros),
        "mode": row.mode,
        "rpm": row.rpm,
        "tpm": row.tpm,
        "concurrency": row.concurrency,
        "models": list(row.models or []),
        "clients": list(row.clients or []),
    }


def _clients(values: list[str]) -> list[str]:
    out: list[str] = []
    for raw in values:
        family = raw.strip()
        if family not in CLIENT_FAMILIES:
            raise InvalidBudgetError(
                f"'{raw}' is not a client family; use one of {', '.join(CLIENT_FAMILIES)}.",
                field="clients",
            )
        if family not in out:
            out.append(family)
    return out


async def set_key_budget(
    session: Session, actor: Actor, *, key_id: uuid.UUID, changes: KeyBudgetChange
) -> KeyBudget:
    """Set a key's budgets and limits (only the fields given; `None` clears one). Writes an
    audit event and a `budgets.key` change."""
    require(actor, Permission.BUDGETS_WRITE)
    key = await keys_service.get_key(session, actor, key_id=key_id)
    row = await session.get(KeyBudget, key.id)
    before = None if row is None else _view(row)
    if row is None:
        row = KeyBudget(key_id=key.id, mode="hard", models=[], clients=[])
        session.add(row)
    given = changes.model_fields_set
    for name, column in _AMOUNTS.items():
        if name in given:
            setattr(row, column, getattr(changes, name))
    if "mode" in given:
        row.mode = changes.mode or "hard"
    for name in ("rpm", "tpm", "concurrency"):
        if name in given:
            setattr(row, name, getattr(changes, name))
    if "models" in given:
        row.models = clean_scopes(changes.models or [])
    if "clients" in given:
        row.clients = _clients(changes.clients or [])
    row.updated_at = utc_now()
    await _key_changed(session, actor, key, "budgets.key_set", before=before, after=_view(row))
    return row


async def _key_changed(
    session: Session, actor: Actor, key: MemberKey, action: str, **detail: Any
) -> None:
    """Flush, audit `action` on the key's budget and note the change."""
    await session.flush()
    await audit_service.record(
        session,
        actor,
        action,
        target_type="member_key",
        target_id=key.id,
        target_label=key.name or str(key.id),
        **detail,
    )
    await record_change(session, KEY_BUDGET_CHANGE, key.id)


async def clear_key_budget(session: Session, actor: Actor, *, key_id: uuid.UUID) -> None:
    """Remove a key's budgets and limits (the deployment's defaults apply again). Audited."""
    require(actor, Permission.BUDGETS_WRITE)
    key = await keys_service.get_key(session, actor, key_id=key_id)
    row = await session.get(KeyBudget, key.id)
    if row is None:
        raise KeyBudgetNotFoundError("That key has no budget to clear.", key_id=str(key_id))
    before = _view(row)
    await session.delete(row)
    await _key_changed(session, actor, key, "budgets.key_clear", before=before)


async def get_key_budget(session: AnySession, actor: Actor, *, key_id: uuid.UUID) -> KeyBudget:
    """A key's budget (a member may read their own keys')."""
    key = await keys_service.get_key(session, actor, key_id=key_id)
    row = await session.get(KeyBudget, key.id)
    if row is None:
        raise KeyBudgetNotFoundError("That key has no budget.", key_id=str(key_id))
    return row


async def list_key_budgets(
    session: AnySession, actor: Actor, *, limit: int | None = None, cursor: str | None = None
) -> Page[KeyBudget]:
    """Every key budget (with `read.all`), or the actor's own keys' budgets."""
    require(actor, Permission.SELF)
    key_ids: list[uuid.UUID] | None = None
    if not allows(actor, Permission.READ_ALL):
        keys = await keys_service.list_keys(session, actor, user_id=actor.user_id, limit=100)
        key_ids = [k.id for k in keys.items]
    rows = list(await repository.key_budgets_of(session, key_ids))
    return Page(items=rows[: limit or 100])


async def request_extension(
    session: Session,
    actor: Actor,
    *,
    amount_micros: int,
    key_id: uuid.UUID | None = None,
    project: str | None = None,
    reason: str = "",
) -> BudgetExtension:
    """Ask to spend `amount_micros` past an approval-mode budget of one's own key or of a
    project one belongs to. Audited; an admin approves it (with an expiry) or rejects it."""
    require(actor, Permission.SELF)
    if actor.read_only:
        raise ReadOnlyTokenError("This API token is read-only; it cannot ask for an extension.")
    if (key_id is None) == (project is None):
        raise InvalidBudgetError("Name either a key or a project.", field="key_id")
    row = BudgetExtension(
        amount_micros=amount_micros,
        reason=reason.strip()[:500],
        status="pending",
        requested_by_id=actor.user_id,
        requested_by_label=actor.label,
    )
    if key_id is not None:
        key = await keys_service.get_key(session, actor, key_id=key_id)
        budget = await session.get(KeyBudget, key.id)
        if budget is None or budget.mode != "approval":
            raise ExtensionNotApplicableError(
                "That key has no approval-mode budget; extensions apply only to those.",
                key_id=str(key_id),
            )
        row.key_id = key.id
        label = key.name or str(key.id)
    else:
        assert project is not None
        target = await get_project(session, actor, name=project, for_extension=True)
        if target.mode != "approval" or target.monthly_budget_micros is None:
            raise ExtensionNotApplicableError(
                f"Project '{target.name}' has no approval-mode budget; extensions apply only "
                "to those.",
                project=target.name,
            )
        if not allows(actor, Permission.READ_ALL) and not await is_member(
            session, target.id, actor.user_id
        ):
            require(actor, Permission.READ_ALL)
        row.project_id = target.id
        label = target.name
    session.add(row)
    await session.flush()
    await audit_service.record(
        session,
        actor,
        "budgets.extension_request",
        target_type="budget_extension",
        target_id=row.id,
        target_label=label,
        amount=format_amount(amount_micros),
    )
    await record_change(session, EXTENSION_CHANGE, row.id)
    return row


async def decide_extension(
    session: Session,
    actor: Actor,
    *,
    extension_id: uuid.UUID,
    approve: bool,
    expires_at: datetime | None = None,
) -> BudgetExtension:
    """Approve (until `expires_at`, in the future) or reject a pending extension; never the
    requester's own. A team lead decides extensions of their groups' members' keys, approving
    up to their approval limit (`_require_decider`). Audited, with a `budgets.extension`
    change."""
    scope = await scope_for(session, actor, Permission.BUDGETS_WRITE)
    row = await session.get(BudgetExtension, extension_id)
    if row is None:
        if not scope.everywhere:
            raise deny(actor, Permission.BUDGETS_WRITE)  # anti-probing, as for users
        raise ExtensionNotFoundError("No such budget extension.", id=str(extension_id))
    if not scope.everywhere:
        await _require_lead_over(session, actor, row, approve=approve)
    if row.status != "pending":
        raise ExtensionDecidedError(f"That extension was already {row.status}.")
    if (actor.user_id is not None and actor.user_id == row.requested_by_id) or (
        actor.label == row.requested_by_label
    ):
        raise ExtensionSelfApprovalError("Someone else must decide your own extension request.")
    now = utc_now()
    if approve:
        if expires_at is None or expires_at.tzinfo is None or expires_at <= now:
            raise InvalidBudgetError(
                "An approved extension needs an expiry in the future, with a time zone.",
                field="expires_at",
            )
        row.expires_at = expires_at
    row.status = "approved" if approve else "rejected"
    row.decided_by_label = actor.label
    row.decided_at = now
    await session.flush()
    await audit_service.record(
        session,
        actor,
        "budgets.extension_approve" if approve else "budgets.extension_reject",
        target_type="budget_extension",
        target_id=row.id,
        amount=format_amount(row.amount_micros),
        expires_at=None if row.expires_at is None else row.expires_at.isoformat(),
    )
    await record_change(session, EXTENSION_CHANGE, row.id)
    return row


async def _require_lead_over(
    session: AnySession, actor: Actor, row: BudgetExtension, *, approve: bool
) -> None:
    """A lead decides an extension of a key whose owner is a member of a group they lead
    (never a project's: projects span groups), approving no more than their limit there."""
    if row.key_id is None:
        raise deny(actor, Permission.BUDGETS_WRITE)
    key = await keys_service.find_key(session, key_id=row.key_id)
    owner = None if key is None else key.user
    scope = await require_over(session, actor, Permission.BUDGETS_WRITE, owner)
    if approve and owner is not None:
        groups = await lead_groups_over(session, scope, owner, actor)
        require_within_limit(scope, groups, row.amount_micros)


async def list_extensions(
    session: AnySession,
    actor: Actor,
    *,
    status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
    listing: ListQuery | None = None,
) -> Page[BudgetExtension]:
    """Extension requests, newest first: all (with `read.all`), or the actor's own and, for a
    team lead, those of the members of the groups they lead. With `listing`, one offset page
    in its sort and text filter."""
    require(actor, Permission.SELF)
    mine = None if allows(actor, Permission.READ_ALL) else actor.user_id
    if mine is None and not allows(actor, Permission.READ_ALL):
        require(actor, Permission.READ_ALL)
    led = await led_groups(session, actor) if mine is not None else {}
    return await repository.page_extensions(
        session,
        status=status,
        key_ids=None,
        requested_by_id=mine,
        limit=limit,
        cursor=cursor,
        requested_by_among=member_ids_in(led) if led else None,
        listing=listing,
    )
