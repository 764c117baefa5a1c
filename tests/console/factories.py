"""Builders for console tests: usage records (a refusal, a settled call)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from spectra.kit.clock import utc_now
from spectra.usage.models import UsageRecord


async def make_usage(session: AsyncSession, *, user_id: uuid.UUID, **fields: Any) -> UsageRecord:
    values: dict[str, Any] = {
        "request_id": uuid.uuid4().hex,
        "user_id": user_id,
        "protocol": "anthropic",
        "model_requested": "claude-sonnet-4-5",
        "status": "ok",
        "client_family": "claude-code",
        "created_at": utc_now(),
    }
    values.update(fields)
    record = UsageRecord(**values)
    session.add(record)
    await session.flush()
    return record
