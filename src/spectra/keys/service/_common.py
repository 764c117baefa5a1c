"""What member keys and API tokens share: whose credential it is, who may manage or read it,
and the one issuing step (secret made, only its hash and prefix stored, audited)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db.session import AnySession, Session
from spectra.errors import SpectraError
from spectra.keys import repository
from spectra.keys.errors import KeyOwnerNotFoundError, KeyOwnerRequiredError
from spectra.keys.models import KEY_ACTIVE, AdminToken, MemberKey
from spectra.keys.secrets import display_prefix, hash_secret, matches
from spectra.users import service as users_service
from spectra.users.models import User
from spectra.users.permissions import (
    Manage,
    Permission,
    ReadOnlyTokenError,
    allows,
    require,
    require_can_manage,
)
from spectra.users.scope import require_over

Credential = TypeVar("Credential", MemberKey, AdminToken)


async def issue(
    session: Session,
    actor: Actor,
    credential: Credential,
    *,
    owner: User,
    new_secret: Callable[[], str],
    action: str,
    replaces: Credential | None = None,
    before: dict[str, Any] | None = None,
) -> tuple[Credential, str]:
    """Give `credential` a fresh secret, store only its hash and display prefix, and write the
    audit event in the same transaction. Returns the credential and its secret, which is never
    available again. A rotation passes `replaces`: the event is then about the replaced
    credential and names the new one."""
    secret = new_secret()
    credential.prefix = display_prefix(secret)
    credential.hash = hash_secret(secret)
    credential.status = KEY_ACTIVE
    credential.user = owner
    session.add(credential)
    await session.flush()
    subject = replaces if replaces is not None else credential
    details: dict[str, Any] = (
        {"new_key_id": str(credential.id), "new_prefix": credential.prefix}
        if replaces is not None
        else {}
    )
    await audit_credential(session, actor, action, subject, owner=owner, before=before, **details)
    return credential, secret


async def audit_credential(
    session: Session,
    actor: Actor,
    action: str,
    credential: MemberKey | AdminToken,
    *,
    owner: User | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    **details: Any,
) -> None:
    """Audit an action on a key or token (its owner: `.user` unless given); `after` defaults to
    the credential as it is now."""
    await audit_service.record(
        session,
        actor,
        action,
        target_type=target_type(credential),
        target_id=credential.id,
        target_label=label(credential, owner or credential.user),
        before=before,
        after=credential.audit_view() if after is None else after,
        **details,
    )


async def find_by_secret(
    secret: str,
    *,
    looks_right: Callable[[str], bool],
    find: Callable[[str], Awaitable[Credential | None]],
    wrong_kind: SpectraError,
    unknown: SpectraError,
) -> Credential:
    """The stored credential whose hash matches `secret` (compared in constant time), or
    `wrong_kind` for a secret of another shape and `unknown` for one nobody holds."""
    if not looks_right(secret):
        raise wrong_kind
    digest = hash_secret(secret)
    found = await find(digest)
    if found is None or not matches(digest, found.hash):
        raise unknown
    return found


def target_type(credential: MemberKey | AdminToken) -> str:
    return "member_key" if isinstance(credential, MemberKey) else "admin_token"


def label(credential: MemberKey | AdminToken, owner: User) -> str:
    """How the audit log names a credential: `name prefix (owner email)`."""
    kind = "key" if isinstance(credential, MemberKey) else "token"
    return f"{credential.name or kind} {credential.prefix} ({owner.email})"


async def resolve_owner(
    session: AnySession, actor: Actor, *, user_id: uuid.UUID | None, user_email: str | None
) -> User:
    """The user named by id or email, else the actor. Naming someone else follows the users
    service's rule (`may_name`: refused before the lookup to an actor who may not read all)."""
    if user_id is None and not user_email:
        if actor.user_id is None:
            raise KeyOwnerRequiredError("Name the user (--user EMAIL).", field="user")
        user_id = actor.user_id
    naming_self = actor.user_id is not None and (
        user_id == actor.user_id or (user_email or "").strip().lower() == actor.label.lower()
    )
    if not naming_self and not allows(actor, Permission.READ_ALL):
        # a team lead may name the members of their groups; anyone else gets the role's refusal
        found = (
            await repository.get_user(session, user_id)
            if user_id is not None
            else await users_service.find_user(session, actor, email=user_email or "")
        )
        await require_over(session, actor, Permission.READ_ALL, found)
        assert found is not None
        return found
    users_service.may_name(actor, user_id=user_id, email=user_email)
    user = (
        await repository.get_user(session, user_id)
        if user_id is not None
        else await users_service.find_user(session, actor, email=user_email or "")
    )
    if user is None:
        raise KeyOwnerNotFoundError(
            f"No user {user_email or user_id} exists; create them first with `spectra users create`.",
            user=str(user_email or user_id),
        )
    return user


async def list_owner(
    session: AnySession, actor: Actor, *, user_id: uuid.UUID | None, user_email: str | None
) -> uuid.UUID | None:
    """Whose rows a list shows: the named user (if the actor may read them), everyone (with
    `read.all`) or the actor's own."""
    if user_id is not None or user_email:
        owner = await resolve_owner(session, actor, user_id=user_id, user_email=user_email)
        await may_read(session, actor, owner)
        return owner.id
    if allows(actor, Permission.READ_ALL):
        return None
    require(actor, Permission.SELF)
    if actor.user_id is None:
        raise KeyOwnerRequiredError("Name the user (--user EMAIL).", field="user")
    return actor.user_id


def is_own(actor: Actor, owner_id: uuid.UUID) -> bool:
    return actor.user_id is not None and actor.user_id == owner_id


def require_manage(actor: Actor, owner: User) -> None:
    """The permission (own keys, or `keys.write_any`) and the rank rule: nobody mints, rotates,
    changes or revokes the credentials of a user of equal or higher rank."""
    if actor.read_only:
        raise ReadOnlyTokenError("This API token is read-only; it cannot change keys or tokens.")
    require(actor, Permission.SELF if is_own(actor, owner.id) else Permission.KEYS_WRITE_ANY)
    require_can_manage(actor, owner, Manage.CREDENTIALS)


def require_read(actor: Actor, owner_id: uuid.UUID) -> None:
    require(actor, Permission.SELF if is_own(actor, owner_id) else Permission.READ_ALL)


async def may_read(session: AnySession, actor: Actor, owner: User) -> None:
    """`require_read`, or a team lead reading a member of a group they lead."""
    if is_own(actor, owner.id) or allows(actor, Permission.READ_ALL):
        require_read(actor, owner.id)
        return
    await require_over(session, actor, Permission.READ_ALL, owner)


async def may_manage_key(session: AnySession, actor: Actor, owner: User) -> None:
    """`require_manage` for member keys, or a team lead managing a member of a group they lead
    (leads never mint or revoke admin API tokens of others)."""
    if actor.read_only or is_own(actor, owner.id) or allows(actor, Permission.KEYS_WRITE_ANY):
        require_manage(actor, owner)
        return
    await require_over(session, actor, Permission.KEYS_WRITE_ANY, owner)
