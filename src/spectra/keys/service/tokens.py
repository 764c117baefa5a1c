"""Admin API tokens: create (secret shown once), list, revoke, and authenticate. A token
carries its user's role (narrowed to read-only when asked); only its own user creates it."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from spectra.audit.actor import Actor, ActorKind
from spectra.db.session import AnySession, Session
from spectra.keys import repository
from spectra.keys.cache import current_recorder
from spectra.keys.errors import (
    InvalidTokenError,
    KeyOwnerInactiveError,
    TokenExpiredError,
    TokenForOtherUserError,
    TokenFromMemberKeyError,
    TokenNotActiveError,
    TokenNotFoundError,
    TokenRevokedError,
    UserSuspendedError,
)
from spectra.keys.models import KEY_REVOKED, AdminToken
from spectra.keys.rules import USABLE_USER_STATUSES, check_expiry, clean_name
from spectra.keys.secrets import is_admin_token, new_admin_token
from spectra.kit.clock import utc_now
from spectra.kit.pagination import Page
from spectra.users.permissions import (
    Manage,
    Permission,
    ReadOnlyTokenError,
    require,
    require_can_manage,
)

from ._common import (
    audit_credential,
    find_by_secret,
    issue,
    list_owner,
    require_manage,
    resolve_owner,
)

_TOKEN_TOUCH_EVERY = timedelta(seconds=60)


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
    owner = await resolve_owner(session, actor, user_id=user_id, user_email=user_email)
    if actor.kind != ActorKind.LOCAL and owner.id != actor.user_id:
        raise TokenForOtherUserError(
            "An API token can only be created by its own user (or with the local `spectra tokens create --user`)."
        )
    require(actor, Permission.SELF)
    require_can_manage(actor, owner, Manage.CREDENTIALS)
    if owner.status not in USABLE_USER_STATUSES:
        raise KeyOwnerInactiveError(f"{owner.email} is {owner.status}; reactivate them first.")
    check_expiry(expires_at, None, utc_now())
    token = AdminToken(
        user_id=owner.id,
        name=clean_name(name),
        is_read_only=read_only,
        scope=scope,
        expires_at=expires_at,
    )
    return await issue(
        session, actor, token, owner=owner, new_secret=new_admin_token, action="tokens.create"
    )


async def list_tokens(
    session: AnySession,
    actor: Actor,
    *,
    user_id: uuid.UUID | None = None,
    user_email: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[AdminToken]:
    """Tokens newest first: the actor's own, or (with `read.all`) anyone's or one user's."""
    owner_id = await list_owner(session, actor, user_id=user_id, user_email=user_email)
    return await repository.page_tokens(session, user_id=owner_id, limit=limit, cursor=cursor)


async def revoke_token(session: Session, actor: Actor, *, token_id: uuid.UUID) -> AdminToken:
    """Stop a token now. Its own user may; `keys.write_any` may revoke anyone's. Audited."""
    token = await repository.get_token(session, token_id)
    if token is None:
        raise TokenNotFoundError("No API token has this id.", token_id=str(token_id))
    require_manage(actor, token.user)
    if token.status == KEY_REVOKED:
        raise TokenNotActiveError("This API token is already revoked.", token_id=str(token.id))
    before = token.audit_view()
    token.status = KEY_REVOKED
    token.revoked_at = utc_now()
    await session.flush()
    await audit_credential(session, actor, "tokens.revoke", token, before=before)
    return token


async def authenticate_token(
    session: Session, secret: str, *, scope: str | None = None
) -> AdminToken:
    """The token (with `.user` loaded) for an API token secret of `scope` (None: the REST API;
    a token of another scope is refused). Raises invalid_token, token_revoked, token_expired or
    user_suspended. Records the use (batched when a runtime is running, else at most once a
    minute in `session`)."""
    token = await find_by_secret(
        secret,
        looks_right=is_admin_token,
        find=lambda digest: repository.find_token_by_hash(session, digest),
        wrong_kind=InvalidTokenError(
            "This is not a Spectra API token; tokens start with 'st-spectra-'."
        ),
        unknown=InvalidTokenError(
            "This API token is not known; create one with `spectra tokens create`."
        ),
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
