"""Usage records, filtered and paginated (members see their own)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query

from spectra.api.deps import ActorDep, ReadSessionDep
from spectra.usage import service as usage_service
from spectra.usage.schemas import UsageRecordRead

router = APIRouter(prefix="/usage", tags=["usage"])


@router.get("")
async def list_usage(
    session: ReadSessionDep,
    actor: ActorDep,
    user_id: uuid.UUID | None = None,
    user: str | None = Query(None, description="The user's email."),
    group_id: uuid.UUID | None = None,
    group: str | None = Query(None, description="The group's name."),
    key_id: uuid.UUID | None = None,
    model: str | None = None,
    account_id: uuid.UUID | None = None,
    client: str | None = None,
    status: str | None = None,
    refusal_reason: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    page = await usage_service.list_usage(
        session,
        actor,
        user_id=user_id,
        user_email=user,
        group_id=group_id,
        group_name=group,
        key_id=key_id,
        model=model,
        account_id=account_id,
        client=client,
        status=status,
        refusal_reason=refusal_reason,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )
    emails = page.extra.get("emails", {})
    items = [UsageRecordRead.of(r, user_email=emails.get(r.user_id)) for r in page.items]
    return {"items": items, "next_cursor": page.next_cursor}
