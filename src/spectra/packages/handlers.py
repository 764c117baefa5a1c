"""Unit-of-work handlers: a member who joins a group gets the group's default package."""

from __future__ import annotations

from spectra.db import events
from spectra.db.session import Session
from spectra.packages.service import assign_group_default
from spectra.users.events import UserJoinedGroup


async def on_user_joined_group(session: Session, event: UserJoinedGroup) -> None:
    """Assign the group's default package in the joining transaction (idempotent per user)."""
    await assign_group_default(session, user_id=event.user_id, group_id=event.group_id)


def register() -> None:
    events.subscribe(UserJoinedGroup, on_user_joined_group)
