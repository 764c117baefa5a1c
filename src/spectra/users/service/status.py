"""Users: a user's standing (suspend, reactivate, remove, change role), with the guards that
keep an admin from locking themselves out or leaving no active owner."""

from __future__ import annotations

from spectra.audit.actor import Actor
from spectra.db.session import Session
from spectra.kit.clock import utc_now
from spectra.users import repository
from spectra.users.errors import LastOwnerError, SelfActionError, UserStatusError
from spectra.users.models import User
from spectra.users.permissions import Manage, Permission, Role, require, require_can_manage
from spectra.users.scope import scope_for

from ._common import (
    MAX_REASON,
    UserRef,
    clean_text,
    load_user,
    managed_target,
    parse_role,
    save_audited,
    user_snapshot,
)


def _guard_self(actor: Actor, target: User, verb: str) -> None:
    if actor.user_id is not None and actor.user_id == target.id:
        raise SelfActionError(f"You cannot {verb} your own account; ask another admin.")


async def _guard_last_owner(session: Session, target: User, verb: str) -> None:
    if (
        target.role == Role.OWNER.value
        and target.status == "active"
        and await repository.count_active_owners(session, lock=True) <= 1
    ):
        raise LastOwnerError(
            f"{target.email} is the last active owner; make someone else an owner before you {verb} them.",
            user=target.email,
        )


async def _set_status(
    session: Session,
    actor: Actor,
    target: User,
    *,
    status: str,
    reason: str | None,
    action: str,
) -> User:
    before = user_snapshot(target)
    target.status = status
    target.status_reason = reason
    if status in ("suspended", "removed"):
        await repository.end_sessions(session, target.id, at=utc_now())
    return await save_audited(session, actor, target, before, action=action, feed="users.status")


async def suspend_user(session: Session, actor: Actor, *, user: UserRef, reason: str) -> User:
    """Suspend a user: their sessions end and gateways drop their keys within a second (change feed).

    Refuses the last active owner. Writes an audit event.
    """
    require_scope = await scope_for(session, actor, Permission.USERS_WRITE)
    reason = clean_text(reason, field="reason", limit=MAX_REASON, required=True)
    if require_scope.everywhere:
        target = await load_user(session, user)
        _guard_self(actor, target, "suspend")
    target = await managed_target(session, actor, user, Manage.STATUS)
    if target.status in ("suspended", "removed"):
        raise UserStatusError(f"{target.email} is already {target.status}.", status=target.status)
    await _guard_last_owner(session, target, "suspend")
    return await _set_status(
        session, actor, target, status="suspended", reason=reason, action="users.suspend"
    )


async def reactivate_user(session: Session, actor: Actor, *, user: UserRef) -> User:
    """Make a suspended or removed user active again. Writes an audit event."""
    target = await managed_target(session, actor, user, Manage.STATUS)
    if target.status not in ("suspended", "removed"):
        raise UserStatusError(
            f"{target.email} is {target.status}, not suspended or removed.", status=target.status
        )
    return await _set_status(
        session, actor, target, status="active", reason=None, action="users.reactivate"
    )


async def remove_user(
    session: Session, actor: Actor, *, user: UserRef, reason: str | None = None
) -> User:
    """Remove a user (soft: history, usage and ledger stay; the email stays reserved).

    Refuses the last active owner. Writes an audit event.
    """
    require(actor, Permission.USERS_WRITE)
    clean_reason = clean_text(reason, field="reason", limit=MAX_REASON) if reason else None
    target = await load_user(session, user)
    _guard_self(actor, target, "remove")
    require_can_manage(actor, target, Manage.STATUS)
    if target.status == "removed":
        raise UserStatusError(f"{target.email} is already removed.", status=target.status)
    await _guard_last_owner(session, target, "remove")
    return await _set_status(
        session, actor, target, status="removed", reason=clean_reason, action="users.remove"
    )


async def change_role(session: Session, actor: Actor, *, user: UserRef, role: str) -> User:
    """Give a user another role (owners only). Refuses to leave no active owner. Writes an audit event."""
    require(actor, Permission.ROLES_WRITE)
    new_role = parse_role(role)
    target = await load_user(session, user)
    if target.role == new_role.value:
        return target
    await _guard_last_owner(session, target, "demote")
    before = user_snapshot(target)
    target.role = new_role.value
    return await save_audited(
        session, actor, target, before, action="users.change_role", feed="users.role"
    )
