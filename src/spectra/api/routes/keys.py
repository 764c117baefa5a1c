"""/api/keys: members manage their own gateway keys; admins manage anyone's."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi import APIRouter

from spectra.api.deps import ActorDep, ReadSessionDep, SessionDep
from spectra.keys import service as keys_service
from spectra.keys.schemas import KeyCreate, KeyCreated, KeyRead, KeyRevoke, KeyRotate, KeyUpdate
from spectra.kit.pagination import ListResource

router = APIRouter(prefix="/keys", tags=["keys"])


@router.post("", status_code=201)
async def create_key(body: KeyCreate, session: SessionDep, actor: ActorDep) -> KeyCreated:
    """Create a key; the response carries `secret`, shown this once."""
    key, secret = await keys_service.create_key(session, actor, **body.model_dump())
    return KeyCreated.with_secret(key, secret)


@router.get("")
async def list_keys(
    session: ReadSessionDep,
    actor: ActorDep,
    user_id: uuid.UUID | None = None,
    user_email: str | None = None,
    status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> ListResource[KeyRead]:
    page = await keys_service.list_keys(
        session,
        actor,
        user_id=user_id,
        user_email=user_email,
        status=status,
        limit=limit,
        cursor=cursor,
    )
    return ListResource(
        items=[KeyRead.model_validate(k) for k in page.items], next_cursor=page.next_cursor
    )


@router.get("/{key_id}")
async def get_key(key_id: uuid.UUID, session: ReadSessionDep, actor: ActorDep) -> KeyRead:
    return KeyRead.model_validate(await keys_service.get_key(session, actor, key_id=key_id))


@router.post("/{key_id}/revoke")
async def revoke_key(
    key_id: uuid.UUID, session: SessionDep, actor: ActorDep, body: KeyRevoke | None = None
) -> KeyRead:
    reason = body.reason if body is not None else None
    return KeyRead.model_validate(
        await keys_service.revoke_key(session, actor, key_id=key_id, reason=reason)
    )


@router.post("/{key_id}/rotate", status_code=201)
async def rotate_key(
    key_id: uuid.UUID, session: SessionDep, actor: ActorDep, body: KeyRotate | None = None
) -> KeyCreated:
    """Issue a new secret; the old one keeps working for `grace_hours` (default 24)."""
    grace = timedelta(hours=(body or KeyRotate()).grace_hours)
    key, secret = await keys_service.rotate_key(session, actor, key_id=key_id, grace=grace)
    return KeyCreated.with_secret(key, secret)


@router.patch("/{key_id}")
async def update_key(
    key_id: uuid.UUID, body: KeyUpdate, session: SessionDep, actor: ActorDep
) -> KeyRead:
    """Change name, scopes, IP allowlist or expiry; only the fields sent change."""
    sent = body.model_dump(include=body.model_fields_set)
    for field, empty in (("name", ""), ("scopes", []), ("ip_allowlist", [])):
        if field in sent and sent[field] is None:
            sent[field] = empty
    return KeyRead.model_validate(
        await keys_service.update_key(session, actor, key_id=key_id, **sent)
    )
