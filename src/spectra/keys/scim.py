"""SCIM tokens: API tokens whose only scope is directory provisioning (`/scim/v2`).

A SCIM token belongs to the owner or admin who creates it and acts as them (`scim:<email>` in the
audit log) on users and groups only; the REST API refuses it and an ordinary token cannot reach
`/scim/v2`. It is listed and revoked with the other tokens.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from spectra.audit.actor import Actor, ActorKind
from spectra.db.session import Session
from spectra.users.permissions import Permission, ReadOnlyTokenError, require

from .models import AdminToken
from .service import authenticate_token, create_token
from .service._common import resolve_owner

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
    owner = await resolve_owner(session, actor, user_id=None, user_email=user_email)
    require(actor, Permission.USERS_WRITE)
    owner_actor = Actor(kind=ActorKind.USER, label=owner.email, user_id=owner.id, role=owner.role)
    require(owner_actor, Permission.USERS_WRITE)
    return await create_token(
        session,
        actor,
        user_id=owner.id,
        expires_at=expires_at,
        name=name or "SCIM",
        scope=SCIM_SCOPE,
    )


async def authenticate_scim_token(session: Session, secret: str) -> Actor:
    """The actor a SCIM token provisions as (`scim:<email>`, the owner's current role). Raises
    what `authenticate_token` raises; a token of another scope is `invalid_token`."""
    token = await authenticate_token(session, secret, scope=SCIM_SCOPE)
    return scim_actor(token.user_id, token.user.email, token.user.role)


def scim_actor(user_id: uuid.UUID, email: str, role: str) -> Actor:
    return Actor(kind=ActorKind.USER, label=f"scim:{email}", user_id=user_id, role=role, via="scim")
