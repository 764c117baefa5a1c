"""Builders for usage tests."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from spectra.usage.schemas import FundingSource, UsageRecordCreate
from spectra.users.models import Group, User


def usage_record(**overrides: Any) -> UsageRecordCreate:
    values: dict[str, Any] = {
        "request_id": f"req_{uuid.uuid4().hex[:12]}",
        "protocol": "anthropic_messages",
        "model_requested": "claude-sonnet-4-5",
        "model_served": "claude-sonnet-4-5",
        "status": "ok",
        "input_tokens": 10,
        "output_tokens": 20,
        "cost_micros": 330,
        "price_version": "genai-prices@test",
        "client_family": "claude_code",
    }
    values.update(overrides)
    if "funding" not in values and values.get("user_id") is not None:
        values["funding"] = (
            FundingSource(
                account_id=uuid.uuid4(), kind="user_wallet", amount_micros=values["cost_micros"]
            ),
        )
    return UsageRecordCreate(**values)


async def make_group(session: AsyncSession, **overrides: Any) -> Group:
    """Like tests/factories.py's (imported here because mypy maps tests/ without a package)."""
    name = overrides.pop("name", f"team-{uuid.uuid4().hex[:6]}")
    group = Group(name=name, name_key=name.lower(), **overrides)
    session.add(group)
    await session.flush()
    return group


async def make_user(session: AsyncSession, **overrides: Any) -> User:
    group = overrides.pop("group", None)
    if group is None and "group_id" not in overrides:
        group = await make_group(session)
    if group is not None:
        overrides["group_id"] = group.id
    email = overrides.pop("email", f"user-{uuid.uuid4().hex[:8]}@example.com").lower()
    values: dict[str, Any] = {"name": "Test User", "role": "member", "status": "active"}
    values.update(overrides)
    user = User(email=email, **values)
    session.add(user)
    await session.flush()
    return user
