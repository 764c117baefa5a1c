"""Unit-of-work handlers: a member who joins a group gets the group's default package."""

from __future__ import annotations

import importlib
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from spectra.db import events
from spectra.packages.service import assign_group_default


async def on_user_joined_group(session: AsyncSession, event: Any) -> None:
    """Assign the group's default package in the joining transaction (`event.user_id`, `event.group_id`)."""
    await assign_group_default(session, user_id=event.user_id, group_id=event.group_id)


def register() -> None:
    # users publishes UserJoinedGroup from spectra.users.events once that lands; until then there
    # is nothing to subscribe to.
    try:
        users_events = importlib.import_module("spectra.users.events")
    except ModuleNotFoundError:
        return
    events.subscribe(users_events.UserJoinedGroup, on_user_joined_group)
