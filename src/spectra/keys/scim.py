"""SCIM tokens: API tokens whose only scope is directory provisioning (`/scim/v2`).

A SCIM token belongs to the owner or admin who creates it and acts as them (`scim:<email>` in the
audit log) on users and groups only; the REST API refuses it and an ordinary token cannot reach
`/scim/v2`. It is listed and revoked with the other tokens.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor, ActorKind
from spectra.db.session import Session
from spectra.kit.clock import utc_now
from spectra.users.permissions import Permission, ReadOnlyTokenError, require

from .errors import KeyOwnerInactiveError, TokenForOtherUserError
from .models import KEY_ACTIVE, AdminToken
from .rules import USABLE_USER_STATUSES, check_expiry, clean_name
from .secrets import display_prefix, hash_secret, new_admin_token
from .service import _resolve_owner, _token_label, authenticate_token

SCIM_SCOPE = "scim"


async def create_scim_token(
    session: Session,
    actor: Actor,
    *,
    user_email: str | None = None,
    name: str = "",
    expires_at: datetime | None = None,
) -> tuple[AdminToken, str]:
    """Create a SCIM token for the actor (the local command names an owner or admin with
    `user_email`); it provisions with that user's rights. Returns it and its secret (shown once).
    Audited."""
    if actor.read_only or actor.via in ("key", "scim"):
        raise ReadOnlyTokenError(
            "A SCIM token is created by an owner or admin signed in, or with a full API token."
        )
    owner = await _resolve_owner(session, actor, user_id=None, user_email=user_email)
    if actor.kind != ActorKind.LOCAL and owner.id != actor.user_id:
        raise TokenForOtherUserError(
            "A SCIM token can only be created by its own user (or with the local `spectra scim token create --user`)."
        )
    require(actor, Permission.USERS_WRITE)
    owner_actor = Actor(kind=ActorKind.USER, label=owner.email, user_id=owner.id, role=owner.role)
    require(owner_actor, Permission.USERS_WRITE)
    if owner.status not in USABLE_USER_STATUSES:
        raise KeyOwnerInactiveError(f"{owner.email} is {owner.status}; reactivate them first.")
    check_expiry(expires_at, None, utc_now())
    secret = new_admin_token()
    token = AdminToken(
        user_id=owner.id,
        name=clean_name(name or "SCIM"),
        prefix=display_prefix(secret),
        hash=hash_secret(secret),
        is_read_only=False,
        scope=SCIM_SCOPE,
        status=KEY_ACTIVE,
        expires_at=expires_at,
    )
    token.user = owner
    session.add(token)
    await session.flush()
    await audit_service.record(
        session,
        actor,
        "tokens.create_scim",
        target_type="admin_token",
        target_id=token.id,
        target_label=_token_label(token, owner),
        after=token.audit_view(),
    )
    return token, secret


async def authenticate_scim_token(session: AsyncSession, secret: str) -> Actor:
    """The actor a SCIM token provisions as (`scim:<email>`, the owner's current role). Raises
    what `authenticate_token` raises; a token of another scope is `invalid_token`."""
    token = await authenticate_token(session, secret, scope=SCIM_SCOPE)
    return scim_actor(token.user_id, token.user.email, token.user.role)


def scim_actor(user_id: uuid.UUID, email: str, role: str) -> Actor:
    return Actor(kind=ActorKind.USER, label=f"scim:{email}", user_id=user_id, role=role, via="scim")
