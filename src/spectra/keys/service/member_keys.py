"""Member API keys: create (secret shown once), list, revoke, rotate, update, and authenticate.
A member manages their own keys; `keys.write_any` manages anyone's."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from enum import Enum
from typing import Final, Literal

from spectra.audit.actor import Actor
from spectra.db.changes import record_change
from spectra.db.session import AnySession, Session
from spectra.errors import InvalidError
from spectra.keys import repository
from spectra.keys.cache import current_recorder
from spectra.keys.errors import (
    InvalidApiKeyError,
    KeyAlreadyRotatedError,
    KeyNotActiveError,
    KeyNotFoundError,
    KeyOwnerInactiveError,
)
from spectra.keys.models import KEY_ACTIVE, KEY_EXPIRED, KEY_REVOKED, MemberKey
from spectra.keys.rules import (
    check_expiry,
    check_usable,
    clean_allowlist,
    clean_name,
    clean_scopes,
    parse_networks,
)
from spectra.keys.secrets import is_member_key, new_member_key
from spectra.keys.uses import FIRST_USE_CHANGE
from spectra.kit.clock import utc_now
from spectra.kit.pagination import Page
from spectra.users import service as users_service

from ._common import (
    audit_credential,
    find_by_secret,
    issue,
    list_owner,
    may_manage_key,
    may_read,
    resolve_owner,
)

KEY_CHANGE = "keys.changed"
DEFAULT_ROTATION_GRACE = timedelta(hours=24)
MAX_ROTATION_GRACE = timedelta(days=30)
KEY_STATUSES = (KEY_ACTIVE, KEY_REVOKED, KEY_EXPIRED)


class _Unset(Enum):
    UNSET = "unset"


UNSET: Final = _Unset.UNSET
"""`update_key` leaves a field alone when it is UNSET (None clears the optional ones)."""


async def create_key(
    session: Session,
    actor: Actor,
    *,
    user_id: uuid.UUID | None = None,
    user_email: str | None = None,
    name: str = "",
    scopes: list[str] | None = None,
    ip_allowlist: list[str] | None = None,
    expires_at: datetime | None = None,
    expires_after_first_use_days: int | None = None,
    group: str | None = None,
) -> tuple[MemberKey, str]:
    """Create a key for a user (the actor's own when none is named); returns it and its secret,
    which is never available again. `group` binds the key to one of the user's groups (its
    spend is attributed there, and that group's wallet and policy apply); None = the user's
    primary group. Writes an audit event and a `keys.changed` change."""
    owner = await resolve_owner(session, actor, user_id=user_id, user_email=user_email)
    await may_manage_key(session, actor, owner)
    if owner.status == "removed":
        raise KeyOwnerInactiveError(f"{owner.email} was removed; they cannot get new keys.")
    now = utc_now()
    check_expiry(expires_at, expires_after_first_use_days, now)
    bound = await users_service.group_of_user(session, owner, group) if group else None
    key = MemberKey(
        user_id=owner.id,
        group_id=bound.id if bound else None,
        name=clean_name(name),
        scopes=clean_scopes(scopes or []),
        ip_allowlist=clean_allowlist(ip_allowlist or []),
        expires_at=expires_at,
        expires_after_first_use_days=expires_after_first_use_days,
    )
    key, secret = await issue(
        session, actor, key, owner=owner, new_secret=new_member_key, action="keys.create"
    )
    await record_change(session, KEY_CHANGE, key.id)
    return key, secret


async def list_keys(
    session: AnySession,
    actor: Actor,
    *,
    user_id: uuid.UUID | None = None,
    user_email: str | None = None,
    status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
    text: str | None = None,
) -> Page[MemberKey]:
    """Keys newest first: the actor's own, or (with `read.all`) anyone's or one user's; `text`
    keeps those whose prefix or name contains it."""
    if status is not None and status not in KEY_STATUSES:
        raise InvalidError(f"Key status must be one of {', '.join(KEY_STATUSES)}.", field="status")
    owner_id = await list_owner(session, actor, user_id=user_id, user_email=user_email)
    return await repository.page_keys(
        session,
        user_id=owner_id,
        status=status,
        now=utc_now(),
        limit=limit,
        cursor=cursor,
        text=text.strip()[:100] if text else None,
    )


async def get_key(session: AnySession, actor: Actor, *, key_id: uuid.UUID) -> MemberKey:
    """One key (own, or anyone's with `read.all`); raises KeyNotFoundError."""
    key = await _get_key(session, key_id)
    await may_read(session, actor, key.user)
    return key


async def find_key(session: AnySession, *, key_id: uuid.UUID) -> MemberKey | None:
    """A key with its owner loaded, or None; no access check (for a higher domain's own rule,
    e.g. a team lead deciding a budget extension)."""
    return await repository.get_key(session, key_id)


async def revoke_key(
    session: Session, actor: Actor, *, key_id: uuid.UUID, reason: str | None = None
) -> MemberKey:
    """Stop a key now (also during a rotation grace period). Audited; reaches every gateway
    process through the change feed."""
    key = await _get_key(session, key_id)
    await may_manage_key(session, actor, key.user)
    if key.status == KEY_REVOKED:
        raise KeyNotActiveError("This key is already revoked.", key_id=str(key.id))
    before = key.audit_view()
    key.status = KEY_REVOKED
    key.revoked_at = utc_now()
    key.revoked_reason = (reason or "").strip()[:500] or None
    await session.flush()
    await audit_credential(
        session, actor, "keys.revoke", key, before=before, reason=key.revoked_reason
    )
    await record_change(session, KEY_CHANGE, key.id)
    return key


async def rotate_key(
    session: Session, actor: Actor, *, key_id: uuid.UUID, grace: timedelta = DEFAULT_ROTATION_GRACE
) -> tuple[MemberKey, str]:
    """Replace a key's secret: a new key with the same settings and lifetime; the old one keeps
    working for `grace`, then stops. Returns the new key and its secret (shown once)."""
    if grace < timedelta(0) or grace > MAX_ROTATION_GRACE:
        raise InvalidError(
            f"The grace period must be between 0 and {MAX_ROTATION_GRACE.days} days.", field="grace"
        )
    old = await _get_key(session, key_id)
    await may_manage_key(session, actor, old.user)
    now = utc_now()
    if old.grace_until is not None:
        raise KeyAlreadyRotatedError(
            "This key was already rotated; rotate its replacement instead.", key_id=str(old.id)
        )
    if old.effective_status(now) != KEY_ACTIVE:
        raise KeyNotActiveError(
            f"Only an active key can be rotated; this one is {old.effective_status(now)}."
        )
    before = old.audit_view()
    old.grace_until = now + grace
    new, secret = await issue(
        session,
        actor,
        MemberKey(
            user_id=old.user_id,
            group_id=old.group_id,
            name=old.name,
            scopes=list(old.scopes),
            ip_allowlist=list(old.ip_allowlist),
            expires_at=old.expires_at,
            expires_after_first_use_days=old.expires_after_first_use_days,
            first_used_at=old.first_used_at,
            use_expires_at=old.use_expires_at,
            rotated_from_id=old.id,
        ),
        owner=old.user,
        new_secret=new_member_key,
        action="keys.rotate",
        replaces=old,
        before=before,
    )
    await record_change(session, KEY_CHANGE, old.id)
    await record_change(session, KEY_CHANGE, new.id)
    return new, secret


async def update_key(
    session: Session,
    actor: Actor,
    *,
    key_id: uuid.UUID,
    name: str | Literal[_Unset.UNSET] = UNSET,
    scopes: list[str] | Literal[_Unset.UNSET] = UNSET,
    ip_allowlist: list[str] | Literal[_Unset.UNSET] = UNSET,
    expires_at: datetime | Literal[_Unset.UNSET] | None = UNSET,
    expires_after_first_use_days: int | Literal[_Unset.UNSET] | None = UNSET,
) -> MemberKey:
    """Change a key's name, model scopes, IP allowlist or expiry. Audited (before/after)."""
    key = await _get_key(session, key_id)
    await may_manage_key(session, actor, key.user)
    if key.status == KEY_REVOKED:
        raise KeyNotActiveError("A revoked key cannot be changed.", key_id=str(key.id))
    now = utc_now()
    before = key.audit_view()
    if name is not UNSET:
        key.name = clean_name(name)
    if scopes is not UNSET:
        key.scopes = clean_scopes(scopes)
    if ip_allowlist is not UNSET:
        key.ip_allowlist = clean_allowlist(ip_allowlist)
    if expires_at is not UNSET:
        check_expiry(expires_at, None, now)
        key.expires_at = expires_at
    if expires_after_first_use_days is not UNSET:
        check_expiry(None, expires_after_first_use_days, now)
        key.expires_after_first_use_days = expires_after_first_use_days
        key.use_expires_at = (
            key.first_used_at + timedelta(days=expires_after_first_use_days)
            if key.first_used_at is not None and expires_after_first_use_days is not None
            else None
        )
    after = key.audit_view()
    if after == before:
        return key
    await session.flush()
    await audit_credential(session, actor, "keys.update", key, before=before, after=after)
    await record_change(session, KEY_CHANGE, key.id)
    return key


async def authenticate_key(
    session: Session, secret: str, *, client_ip: str | None = None
) -> MemberKey:
    """The key (with `.user` loaded) for a member key secret, through the database: for the REST
    API's member self-service (the gateway uses `KeyCache.lookup`). Raises invalid_api_key,
    key_revoked, key_expired, user_suspended, or ip_not_allowed (an allowlisted key with an
    unknown `client_ip` is refused). Records the use."""
    key = await find_by_secret(
        secret,
        looks_right=is_member_key,
        find=lambda digest: repository.find_key_by_hash(session, digest),
        wrong_kind=InvalidApiKeyError(
            "This is not a Spectra API key; keys start with 'sk-spectra-'."
        ),
        unknown=InvalidApiKeyError(
            "This API key is not known; check it, or create a new one in the portal."
        ),
    )
    now = utc_now()
    check_usable(
        status=key.status,
        grace_until=key.grace_until,
        expires_at=key.effective_expires_at(),
        user_status=key.user.status,
        networks=parse_networks(key.ip_allowlist),
        client_ip=client_ip,
        now=now,
    )
    recorder = current_recorder()
    if key.expires_after_first_use_days is not None and key.first_used_at is None:
        expires = now + timedelta(days=key.expires_after_first_use_days)
        queued = recorder.first_use(key.id, now, expires) if recorder is not None else None
        if queued is None and await repository.record_first_use(session, key.id, now, expires):
            await record_change(session, FIRST_USE_CHANGE, key.id)
    if recorder is not None:
        recorder.touch_key(key.id, now)
    else:
        await repository.touch_keys(session, {key.id: now})
    return key


async def _get_key(session: AnySession, key_id: uuid.UUID) -> MemberKey:
    key = await repository.get_key(session, key_id)
    if key is None:
        raise KeyNotFoundError("No API key has this id.", key_id=str(key_id))
    return key
