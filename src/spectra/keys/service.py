"""Member API keys and admin API tokens: create (secret shown once), list, revoke, rotate, update,
and authenticate. A member manages their own keys; `keys.write_any` manages anyone's."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from enum import Enum
from typing import Final, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor, ActorKind
from spectra.db.changes import record_change
from spectra.db.session import Session
from spectra.errors import InvalidError
from spectra.kit.clock import utc_now
from spectra.kit.pagination import Page
from spectra.users.models import User
from spectra.users.permissions import (
    Manage,
    Permission,
    ReadOnlyTokenError,
    allows,
    require,
    require_can_manage,
)

from . import repository
from .cache import current_recorder
from .errors import (
    InvalidApiKeyError,
    InvalidTokenError,
    KeyAlreadyRotatedError,
    KeyNotActiveError,
    KeyNotFoundError,
    KeyOwnerInactiveError,
    KeyOwnerNotFoundError,
    KeyOwnerRequiredError,
    TokenExpiredError,
    TokenForOtherUserError,
    TokenFromMemberKeyError,
    TokenNotActiveError,
    TokenNotFoundError,
    TokenRevokedError,
    UserSuspendedError,
)
from .models import KEY_ACTIVE, KEY_EXPIRED, KEY_REVOKED, AdminToken, MemberKey
from .rules import (
    USABLE_USER_STATUSES,
    check_expiry,
    check_usable,
    clean_allowlist,
    clean_name,
    clean_scopes,
    parse_networks,
)
from .secrets import (
    display_prefix,
    hash_secret,
    is_admin_token,
    is_member_key,
    matches,
    new_admin_token,
    new_member_key,
)
from .uses import FIRST_USE_CHANGE

KEY_CHANGE = "keys.changed"
DEFAULT_ROTATION_GRACE = timedelta(hours=24)
MAX_ROTATION_GRACE = timedelta(days=30)
KEY_STATUSES = (KEY_ACTIVE, KEY_REVOKED, KEY_EXPIRED)
_TOKEN_TOUCH_EVERY = timedelta(seconds=60)


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
) -> tuple[MemberKey, str]:
    """Create a key for a user (the actor's own when none is named); returns it and its secret,
    which is never available again. Writes an audit event and a `keys.changed` change."""
    owner = await _resolve_owner(session, actor, user_id=user_id, user_email=user_email)
    _require_manage(actor, owner)
    if owner.status == "removed":
        raise KeyOwnerInactiveError(f"{owner.email} was removed; they cannot get new keys.")
    now = utc_now()
    check_expiry(expires_at, expires_after_first_use_days, now)
    secret = new_member_key()
    key = MemberKey(
        user_id=owner.id,
        name=clean_name(name),
        prefix=display_prefix(secret),
        hash=hash_secret(secret),
        scopes=clean_scopes(scopes or []),
        ip_allowlist=clean_allowlist(ip_allowlist or []),
        status=KEY_ACTIVE,
        expires_at=expires_at,
        expires_after_first_use_days=expires_after_first_use_days,
    )
    key.user = owner
    session.add(key)
    await session.flush()
    await audit_service.record(
        session,
        actor,
        "keys.create",
        target_type="member_key",
        target_id=key.id,
        target_label=_key_label(key, owner),
        after=key.audit_view(),
    )
    await record_change(session, KEY_CHANGE, key.id)
    return key, secret


async def list_keys(
    session: AsyncSession,
    actor: Actor,
    *,
    user_id: uuid.UUID | None = None,
    user_email: str | None = None,
    status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[MemberKey]:
    """Keys newest first: the actor's own, or (with `read.all`) anyone's or one user's."""
    if status is not None and status not in KEY_STATUSES:
        raise InvalidError(f"Key status must be one of {', '.join(KEY_STATUSES)}.", field="status")
    owner_id = await _list_owner(session, actor, user_id=user_id, user_email=user_email)
    return await repository.page_keys(
        session, user_id=owner_id, status=status, now=utc_now(), limit=limit, cursor=cursor
    )


async def get_key(session: AsyncSession, actor: Actor, *, key_id: uuid.UUID) -> MemberKey:
    """One key (own, or anyone's with `read.all`); raises KeyNotFoundError."""
    key = await _get_key(session, key_id)
    _require_read(actor, key.user_id)
    return key


async def revoke_key(
    session: Session, actor: Actor, *, key_id: uuid.UUID, reason: str | None = None
) -> MemberKey:
    """Stop a key now (also during a rotation grace period). Audited; reaches every gateway
    process through the change feed."""
    key = await _get_key(session, key_id)
    _require_manage(actor, key.user)
    if key.status == KEY_REVOKED:
        raise KeyNotActiveError("This key is already revoked.", key_id=str(key.id))
    before = key.audit_view()
    key.status = KEY_REVOKED
    key.revoked_at = utc_now()
    key.revoked_reason = (reason or "").strip()[:500] or None
    await session.flush()
    await audit_service.record(
        session,
        actor,
        "keys.revoke",
        target_type="member_key",
        target_id=key.id,
        target_label=_key_label(key, key.user),
        before=before,
        after=key.audit_view(),
        reason=key.revoked_reason,
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
    _require_manage(actor, old.user)
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
    secret = new_member_key()
    new = MemberKey(
        user_id=old.user_id,
        name=old.name,
        prefix=display_prefix(secret),
        hash=hash_secret(secret),
        scopes=list(old.scopes),
        ip_allowlist=list(old.ip_allowlist),
        status=KEY_ACTIVE,
        expires_at=old.expires_at,
        expires_after_first_use_days=old.expires_after_first_use_days,
        first_used_at=old.first_used_at,
        use_expires_at=old.use_expires_at,
        rotated_from_id=old.id,
    )
    new.user = old.user
    old.grace_until = now + grace
    session.add(new)
    await session.flush()
    await audit_service.record(
        session,
        actor,
        "keys.rotate",
        target_type="member_key",
        target_id=old.id,
        target_label=_key_label(old, old.user),
        before=before,
        after=old.audit_view(),
        new_key_id=str(new.id),
        new_prefix=new.prefix,
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
    _require_manage(actor, key.user)
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
    await audit_service.record(
        session,
        actor,
        "keys.update",
        target_type="member_key",
        target_id=key.id,
        target_label=_key_label(key, key.user),
        before=before,
        after=after,
    )
    await record_change(session, KEY_CHANGE, key.id)
    return key


async def authenticate_key(
    session: AsyncSession, secret: str, *, client_ip: str | None = None
) -> MemberKey:
    """The key (with `.user` loaded) for a member key secret, through the database: for the REST
    API's member self-service (the gateway uses `KeyCache.lookup`). Raises invalid_api_key,
    key_revoked, key_expired, user_suspended, or ip_not_allowed (an allowlisted key with an
    unknown `client_ip` is refused). Records the use."""
    if not is_member_key(secret):
        raise InvalidApiKeyError("This is not a Spectra API key; keys start with 'sk-spectra-'.")
    digest = hash_secret(secret)
    key = await repository.find_key_by_hash(session, digest)
    if key is None or not matches(digest, key.hash):
        raise InvalidApiKeyError(
            "This API key is not known; check it, or create a new one in the portal."
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


async def create_token(
    session: Session,
    actor: Actor,
    *,
    user_id: uuid.UUID | None = None,
    user_email: str | None = None,
    read_only: bool = False,
    expires_at: datetime | None = None,
    name: str = "",
    scope: str | None = None,
) -> tuple[AdminToken, str]:
    """Create an API token for the actor themselves (the local command may name any user); it
    carries that user's role, narrowed to read-only when asked, and works where `scope` says
    (None: the REST API). Returns it and its secret (shown once). Audited."""
    if actor.read_only:
        raise ReadOnlyTokenError("This API token is read-only; it cannot create tokens.")
    if actor.via == "key":
        # A member key acts as a member; the token would carry the user's full role.
        raise TokenFromMemberKeyError(
            "An API token cannot be created with a member key; sign in to the console or use an existing token."
        )
    owner = await _resolve_owner(session, actor, user_id=user_id, user_email=user_email)
    if actor.kind != ActorKind.LOCAL and owner.id != actor.user_id:
        raise TokenForOtherUserError(
            "An API token can only be created by its own user (or with the local `spectra tokens create --user`)."
        )
    require(actor, Permission.SELF)
    require_can_manage(actor, owner, Manage.CREDENTIALS)
    if owner.status not in USABLE_USER_STATUSES:
        raise KeyOwnerInactiveError(f"{owner.email} is {owner.status}; reactivate them first.")
    check_expiry(expires_at, None, utc_now())
    secret = new_admin_token()
    token = AdminToken(
        user_id=owner.id,
        name=clean_name(name),
        prefix=display_prefix(secret),
        hash=hash_secret(secret),
        is_read_only=read_only,
        scope=scope,
        status=KEY_ACTIVE,
        expires_at=expires_at,
    )
    token.user = owner
    session.add(token)
    await session.flush()
    await audit_service.record(
        session,
        actor,
        "tokens.create",
        target_type="admin_token",
        target_id=token.id,
        target_label=_token_label(token, owner),
        after=token.audit_view(),
    )
    return token, secret


async def list_tokens(
    session: AsyncSession,
    actor: Actor,
    *,
    user_id: uuid.UUID | None = None,
    user_email: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[AdminToken]:
    """Tokens newest first: the actor's own, or (with `read.all`) anyone's or one user's."""
    owner_id = await _list_owner(session, actor, user_id=user_id, user_email=user_email)
    return await repository.page_tokens(session, user_id=owner_id, limit=limit, cursor=cursor)


async def revoke_token(session: Session, actor: Actor, *, token_id: uuid.UUID) -> AdminToken:
    """Stop a token now. Its own user may; `keys.write_any` may revoke anyone's. Audited."""
    token = await repository.get_token(session, token_id)
    if token is None:
        raise TokenNotFoundError("No API token has this id.", token_id=str(token_id))
    _require_manage(actor, token.user)
    if token.status == KEY_REVOKED:
        raise TokenNotActiveError("This API token is already revoked.", token_id=str(token.id))
    before = token.audit_view()
    token.status = KEY_REVOKED
    token.revoked_at = utc_now()
    await session.flush()
    await audit_service.record(
        session,
        actor,
        "tokens.revoke",
        target_type="admin_token",
        target_id=token.id,
        target_label=_token_label(token, token.user),
        before=before,
        after=token.audit_view(),
    )
    return token


async def authenticate_token(
    session: AsyncSession, secret: str, *, scope: str | None = None
) -> AdminToken:
    """The token (with `.user` loaded) for an API token secret of `scope` (None: the REST API;
    a token of another scope is refused). Raises invalid_token, token_revoked, token_expired or
    user_suspended. Records the use (batched when a runtime is running, else at most once a
    minute in `session`)."""
    if not is_admin_token(secret):
        raise InvalidTokenError("This is not a Spectra API token; tokens start with 'st-spectra-'.")
    digest = hash_secret(secret)
    token = await repository.find_token_by_hash(session, digest)
    if token is None or not matches(digest, token.hash):
        raise InvalidTokenError(
            "This API token is not known; create one with `spectra tokens create`."
        )
    if token.scope != scope:
        raise InvalidTokenError(
            f"This is a {token.scope or 'REST API'} token; it is not valid here.",
            token_scope=token.scope or "api",
        )
    now = utc_now()
    if token.status == KEY_REVOKED:
        raise TokenRevokedError(
            "This API token was revoked; create a new one with `spectra tokens create`."
        )
    if token.expires_at is not None and token.expires_at <= now:
        raise TokenExpiredError(
            "This API token has expired; create a new one with `spectra tokens create`."
        )
    if token.user.status not in USABLE_USER_STATUSES:
        raise UserSuspendedError(
            f"This token's user is {token.user.status}; ask an admin to reactivate the account.",
            user_status=token.user.status,
        )
    recorder = current_recorder()
    if recorder is not None:
        recorder.touch_token(token.id, now)
    elif token.last_used_at is None or now - token.last_used_at >= _TOKEN_TOUCH_EVERY:
        await repository.touch_tokens(session, {token.id: now})
    return token


async def _get_key(session: AsyncSession, key_id: uuid.UUID) -> MemberKey:
    key = await repository.get_key(session, key_id)
    if key is None:
        raise KeyNotFoundError("No API key has this id.", key_id=str(key_id))
    return key


async def _resolve_owner(
    session: AsyncSession, actor: Actor, *, user_id: uuid.UUID | None, user_email: str | None
) -> User:
    if user_id is None and not user_email:
        if actor.user_id is None:
            raise KeyOwnerRequiredError("Name the user (--user EMAIL).", field="user")
        user_id = actor.user_id
    user = (
        await repository.get_user(session, user_id)
        if user_id is not None
        else await repository.find_user_by_email(session, user_email or "")
    )
    if user is None:
        raise KeyOwnerNotFoundError(
            f"No user {user_email or user_id} exists; create them first with `spectra users create`.",
            user=str(user_email or user_id),
        )
    return user


async def _list_owner(
    session: AsyncSession, actor: Actor, *, user_id: uuid.UUID | None, user_email: str | None
) -> uuid.UUID | None:
    """Whose rows a list shows: the named user (if the actor may read them), everyone (with
    `read.all`) or the actor's own."""
    if user_id is not None or user_email:
        owner = await _resolve_owner(session, actor, user_id=user_id, user_email=user_email)
        _require_read(actor, owner.id)
        return owner.id
    if allows(actor, Permission.READ_ALL):
        return None
    require(actor, Permission.SELF)
    if actor.user_id is None:
        raise KeyOwnerRequiredError("Name the user (--user EMAIL).", field="user")
    return actor.user_id


def _is_own(actor: Actor, owner_id: uuid.UUID) -> bool:
    return actor.user_id is not None and actor.user_id == owner_id


def _require_manage(actor: Actor, owner: User) -> None:
    """The permission (own keys, or `keys.write_any`) and the rank rule: nobody mints, rotates,
    changes or revokes the credentials of a user of equal or higher rank."""
    if actor.read_only:
        raise ReadOnlyTokenError("This API token is read-only; it cannot change keys or tokens.")
    require(actor, Permission.SELF if _is_own(actor, owner.id) else Permission.KEYS_WRITE_ANY)
    require_can_manage(actor, owner, Manage.CREDENTIALS)


def _require_read(actor: Actor, owner_id: uuid.UUID) -> None:
    require(actor, Permission.SELF if _is_own(actor, owner_id) else Permission.READ_ALL)


def _key_label(key: MemberKey, owner: User) -> str:
    return f"{key.name or 'key'} {key.prefix} ({owner.email})"


def _token_label(token: AdminToken, owner: User) -> str:
    return f"{token.name or 'token'} {token.prefix} ({owner.email})"
