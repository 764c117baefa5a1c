"""Roles and what they may do. Services call `require(actor, permission)` before any change,
so the console, the REST API and the CLI enforce the same rules.

owner    everything
admin    everything except changing roles and workspace settings
billing  recharges, approvals, codes, statements, budgets; read everything
auditor  read-only everything, including the audit log
member   self-service only (their own keys, balance, packages, usage)

On top of the role's permission, acting on another user needs rank (`require_can_manage`):
owner > admin > billing, auditor > member. Nobody acts on the credentials of a user of equal or
higher rank (an admin cannot set an admin's password or mint an owner's key); owners may still
suspend, reactivate or rename each other. The local command (`local:<os user>`) and `system`
are the break-glass path and may act on anyone.
"""

from __future__ import annotations

from enum import StrEnum

from spectra.audit.actor import Actor, ActorKind
from spectra.errors import ForbiddenError

from .models import User


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    BILLING = "billing"
    AUDITOR = "auditor"
    MEMBER = "member"


class Permission(StrEnum):
    READ_ALL = "read.all"
    """Read every admin view: users, pool, ledger, usage, policy."""
    AUDIT_READ = "audit.read"
    USERS_WRITE = "users.write"
    ROLES_WRITE = "roles.write"
    KEYS_WRITE_ANY = "keys.write_any"
    POOL_WRITE = "pool.write"
    PACKAGES_WRITE = "packages.write"
    POLICY_WRITE = "policy.write"
    LEDGER_RECHARGE = "ledger.recharge"
    LEDGER_APPROVE = "ledger.approve"
    LEDGER_ADJUST = "ledger.adjust"
    CODES_WRITE = "codes.write"
    BUDGETS_WRITE = "budgets.write"
    PRICES_WRITE = "prices.write"
    SETTINGS_WRITE = "settings.write"
    SELF = "self"
    """Self-service: every signed-in user."""


_WRITE = {
    Permission.USERS_WRITE,
    Permission.ROLES_WRITE,
    Permission.KEYS_WRITE_ANY,
    Permission.POOL_WRITE,
    Permission.PACKAGES_WRITE,
    Permission.POLICY_WRITE,
    Permission.LEDGER_RECHARGE,
    Permission.LEDGER_APPROVE,
    Permission.LEDGER_ADJUST,
    Permission.CODES_WRITE,
    Permission.BUDGETS_WRITE,
    Permission.PRICES_WRITE,
    Permission.SETTINGS_WRITE,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(Permission),
    Role.ADMIN: frozenset(Permission) - {Permission.ROLES_WRITE, Permission.SETTINGS_WRITE},
    Role.BILLING: frozenset(
        {
            Permission.READ_ALL,
            Permission.AUDIT_READ,
            Permission.LEDGER_RECHARGE,
            Permission.LEDGER_APPROVE,
            Permission.LEDGER_ADJUST,
            Permission.CODES_WRITE,
            Permission.BUDGETS_WRITE,
            Permission.SELF,
        }
    ),
    Role.AUDITOR: frozenset({Permission.READ_ALL, Permission.AUDIT_READ, Permission.SELF}),
    Role.MEMBER: frozenset({Permission.SELF}),
}

_DESCRIPTIONS: dict[Permission, str] = {
    Permission.READ_ALL: "see other members' data",
    Permission.AUDIT_READ: "read the audit log",
    Permission.USERS_WRITE: "manage users and groups",
    Permission.ROLES_WRITE: "change roles",
    Permission.KEYS_WRITE_ANY: "manage other members' keys",
    Permission.POOL_WRITE: "manage the account pool",
    Permission.PACKAGES_WRITE: "manage packages",
    Permission.POLICY_WRITE: "change policy and rollouts",
    Permission.LEDGER_RECHARGE: "recharge balances",
    Permission.LEDGER_APPROVE: "approve recharges",
    Permission.LEDGER_ADJUST: "adjust, transfer or refund",
    Permission.CODES_WRITE: "manage redemption codes",
    Permission.BUDGETS_WRITE: "set budgets",
    Permission.PRICES_WRITE: "set prices",
    Permission.SETTINGS_WRITE: "change workspace settings",
    Permission.SELF: "use self-service",
}


class PermissionDeniedError(ForbiddenError):
    code = "permission_denied"


class ReadOnlyTokenError(ForbiddenError):
    code = "read_only_token"


class RankTooLowError(ForbiddenError):
    code = "rank_too_low"


class Manage(StrEnum):
    """What an actor does to another user, for `require_can_manage`."""

    CREDENTIALS = "credentials"
    """Set a password, issue a set-up link, create, rotate, change or revoke keys and tokens."""
    IDENTITY = "identity"
    """Change the email (the name the user signs in with)."""
    STATUS = "status"
    """Suspend, reactivate or remove."""
    PROFILE = "profile"
    """Display name, home group."""


RANK: dict[Role, int] = {
    Role.OWNER: 3,
    Role.ADMIN: 2,
    Role.BILLING: 1,
    Role.AUDITOR: 1,
    Role.MEMBER: 0,
}

_OWNERS_AMONG_THEMSELVES = frozenset({Manage.STATUS, Manage.PROFILE})
_SELF = frozenset({Manage.CREDENTIALS, Manage.IDENTITY, Manage.PROFILE})
_VERBS: dict[Manage, str] = {
    Manage.CREDENTIALS: "set passwords, links, keys or tokens for",
    Manage.IDENTITY: "change the email of",
    Manage.STATUS: "suspend, reactivate or remove",
    Manage.PROFILE: "change",
}


def _role_named(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        return Role.MEMBER


def can_manage(actor: Actor, target: User, action: Manage) -> bool:
    """Whether `actor` outranks the target enough for `action` (the role permission is separate).

    Self: credentials, email and profile (never status: nobody suspends themselves). Local and
    system actors: anyone. Otherwise the actor's rank must be strictly higher, except that
    owners may change each other's status and profile (never credentials or email)."""
    if actor.kind in (ActorKind.LOCAL, ActorKind.SYSTEM):
        return True
    if actor.user_id is not None and actor.user_id == target.id:
        return action in _SELF
    mine, theirs = role_of(actor), _role_named(target.role)
    if mine is Role.OWNER and theirs is Role.OWNER:
        return action in _OWNERS_AMONG_THEMSELVES
    return RANK[mine] > RANK[theirs]


def require_can_manage(actor: Actor, target: User, action: Manage) -> None:
    """Refuse (`rank_too_low`) unless `actor` may do `action` to the target user: the one rank
    rule for every surface (see the module docstring)."""
    if can_manage(actor, target, action):
        return
    if actor.user_id is not None and actor.user_id == target.id:
        raise RankTooLowError(
            f"You cannot {_VERBS[action]} your own account; ask another admin.", action=str(action)
        )
    why = (
        "credentials are self-service between equals"
        if action is Manage.CREDENTIALS
        else "that needs a higher role"
    )
    raise RankTooLowError(
        f"Your role '{actor.role}' cannot {_VERBS[action]} {target.email}, who is "
        f"'{target.role}': {why}.",
        action=str(action),
        target_role=target.role,
    )


def role_of(actor: Actor) -> Role:
    try:
        return Role(actor.role)
    except ValueError:
        return Role.MEMBER


def allows(actor: Actor, permission: Permission) -> bool:
    if actor.read_only and permission in _WRITE:
        return False
    return permission in ROLE_PERMISSIONS[role_of(actor)]


def require(actor: Actor, permission: Permission) -> None:
    """Raise a clear ForbiddenError unless `actor` may do `permission`."""
    if actor.read_only and permission in _WRITE:
        raise ReadOnlyTokenError(
            f"This API token is read-only; it cannot {_DESCRIPTIONS[permission]}.",
            permission=str(permission),
        )
    if permission not in ROLE_PERMISSIONS[role_of(actor)]:
        raise PermissionDeniedError(
            f"Your role '{actor.role}' cannot {_DESCRIPTIONS[permission]}; ask an owner or admin.",
            permission=str(permission),
        )
