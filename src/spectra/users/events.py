"""Unit-of-work events the users domain publishes (handled by higher domains in the same transaction)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class UserJoinedGroup:
    """A user was created in, imported into or moved to a group (e.g. assign its default package)."""

    user_id: uuid.UUID
    group_id: uuid.UUID
