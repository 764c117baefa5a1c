"""Team leads: who may act on whom by leading a group. Every service that a lead may use asks
here instead of `require` alone, so the console, the REST API and the CLI all get the same scope.

A lead is any user (usually a `member`) with a row in `group_leads`. On top of their role, a
lead may do the `LEAD_PERMISSIONS` things to the *members* (role `member`, never staff) of the
groups they lead, where "of a group" means the group is the user's primary group or one of
their secondary memberships. Outside that scope, the answer is the role's own refusal
(`permission_denied`, 403), the same for an unknown user as for another group's member: a lead
cannot probe which emails exist (the anti-probing rule of `users.service.lookup`).

Money a lead approves or moves is bounded by the approval limit an admin set for that lead on
that group (`lead_limit_exceeded`, 403, above it).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, or_, select

from spectra.audit.actor import Actor, ActorKind
from spectra.db.session import AnySession
from spectra.errors import ForbiddenError, NotFoundError
from spectra.kit.money import format_amount

from .models import GroupLead, GroupMembership, User
from .permissions import Permission, PermissionDeniedError, Role, allows, require
from .repository import get_user

LEAD_PERMISSIONS = frozenset(
    {
        Permission.READ_ALL,
        Permission.USERS_WRITE,
        Permission.KEYS_WRITE_ANY,
        Permission.PACKAGES_WRITE,
        Permission.LEDGER_APPROVE,
        Permission.LEDGER_ADJUST,
        Permission.BUDGETS_WRITE,
    }
)
"""What a lead may do within their groups (each service decides which of its actions apply)."""


class LeadLimitExceededError(ForbiddenError):
    code = "lead_limit_exceeded"


@dataclass(frozen=True, slots=True)
class Scope:
    """Where an actor may use a permission: everywhere (`groups` is None) or in these groups."""

    groups: frozenset[uuid.UUID] | None
    limits: dict[uuid.UUID, int] | None = None
    """Approval limit (micros) per led group; None when `groups` is None."""

    @property
    def everywhere(self) -> bool:
        return self.groups is None

    def limit(self, group_id: uuid.UUID) -> int:
        return (self.limits or {}).get(group_id, 0)


EVERYWHERE = Scope(groups=None)


async def led_groups(session: AnySession, actor: Actor) -> dict[uuid.UUID, int]:
    """The groups `actor` leads, with the approval limit of each (empty for most actors).

    A member key never acts as a lead: keys are for the gateway and self-service."""
    if actor.kind is not ActorKind.USER or actor.user_id is None or actor.via == "key":
        return {}
    rows = await session.execute(
        select(GroupLead.group_id, GroupLead.approval_limit_micros).where(
            GroupLead.user_id == actor.user_id
        )
    )
    return {group_id: int(limit) for group_id, limit in rows.all()}


async def scope_for(session: AnySession, actor: Actor, permission: Permission) -> Scope:
    """Where `actor` may use `permission`; the role's refusal when nowhere."""
    if allows(actor, permission) or permission not in LEAD_PERMISSIONS:
        require(actor, permission)
        return EVERYWHERE
    if actor.read_only and permission is not Permission.READ_ALL:
        require(actor, permission)  # a read-only token writes nowhere, lead or not
    leads = await led_groups(session, actor)
    if not leads:
        require(actor, permission)
    return Scope(groups=frozenset(leads), limits=leads)


def member_ids_in(groups: Iterable[uuid.UUID]) -> Select[Any]:
    """Subquery: ids of the users (role `member`) whose primary or secondary group is one of
    `groups` (for `among=` filters of paginated lists)."""
    wanted = list(groups)
    secondary = select(GroupMembership.user_id).where(GroupMembership.group_id.in_(wanted))
    return select(User.id).where(
        User.role == Role.MEMBER.value, or_(User.group_id.in_(wanted), User.id.in_(secondary))
    )


async def groups_of(session: AnySession, user: User) -> set[uuid.UUID]:
    """Every group `user` belongs to (primary first in meaning, not in order)."""
    rows = await session.execute(
        select(GroupMembership.group_id).where(GroupMembership.user_id == user.id)
    )
    return {user.group_id, *rows.scalars()}


def deny(actor: Actor, permission: Permission) -> PermissionDeniedError:
    """The refusal a lead gets outside their groups: word for word the role's own refusal."""
    try:
        require(actor, permission)
    except PermissionDeniedError as refusal:
        return refusal
    return PermissionDeniedError("That is outside the groups you lead.")


async def lead_groups_over(
    session: AnySession, scope: Scope, user: User, actor: Actor
) -> set[uuid.UUID]:
    """The led groups `user` belongs to (empty when they are out of scope or staff)."""
    if scope.groups is None:
        return set()
    if actor.user_id == user.id:
        return set()
    if user.role != Role.MEMBER.value:
        return set()
    return (await groups_of(session, user)) & scope.groups


async def require_over(
    session: AnySession, actor: Actor, permission: Permission, user: User | None
) -> Scope:
    """The scope after checking that `actor` may use `permission` on `user` (None = an unknown
    user: refused exactly like another group's member, for anyone but the unscoped)."""
    scope = await scope_for(session, actor, permission)
    if scope.everywhere:
        return scope
    if user is None or not await lead_groups_over(session, scope, user, actor):
        raise deny(actor, permission)
    return scope


async def require_user_ref(
    session: AnySession, actor: Actor, permission: Permission, load: Any
) -> tuple[User, Scope]:
    """`load()` the target user (raising NotFoundError when missing), then `require_over`.

    For a lead, an unknown user is the same 403 as a user of another group (anti-probing)."""
    scope = await scope_for(session, actor, permission)
    try:
        user: User = await load()
    except NotFoundError:
        if scope.everywhere:
            raise
        raise deny(actor, permission) from None
    if not scope.everywhere and not await lead_groups_over(session, scope, user, actor):
        raise deny(actor, permission)
    return user, scope


def require_within_limit(scope: Scope, group_ids: Iterable[uuid.UUID], amount: int) -> None:
    """Refuse a lead moving or approving more than their limit on the groups involved (the
    highest limit among the led groups the target belongs to)."""
    if scope.everywhere:
        return
    limit = max((scope.limit(g) for g in group_ids), default=0)
    if amount > limit:
        raise LeadLimitExceededError(
            f"{format_amount(amount)} is above your approval limit as a team lead "
            f"({format_amount(limit)}); ask an admin.",
            amount=format_amount(amount),
            limit=format_amount(limit),
        )


async def require_read_user(session: AnySession, actor: Actor, user_id: uuid.UUID | None) -> None:
    """Reading a user's data (wallet, packages, usage, statement): themselves, readers of
    everything, or a lead of one of their groups (the role's refusal otherwise, also for an
    unknown id)."""
    if user_id is not None and actor.user_id == user_id:
        require(actor, Permission.SELF)
        return
    if allows(actor, Permission.READ_ALL) or user_id is None:
        require(actor, Permission.READ_ALL)
        return
    await require_over(session, actor, Permission.READ_ALL, await get_user(session, user_id))
