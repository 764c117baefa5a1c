"""Unit-of-work events the users domain publishes (handled by higher domains in the same transaction)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class UserJoinedGroup:
    """A user was created in, imported into or moved to a group (e.g. assign its default package)."""

    user_id: uuid.UUID
    group_id: uuid.UUID


@dataclass(slots=True)
class SetupLinkIssued:
    """A one-time password-setup link was issued (an invitation or a reset). A handler that
    mails the link sets `mailed_to`; the surfaces then show only where it went. `token` lives
    in this event and in the mail, never in the database in plaintext."""

    user_id: uuid.UUID
    email: str
    name: str
    token: str
    expires_at: datetime
    invited: bool
    mailed_to: str | None = None


@dataclass(frozen=True, slots=True)
class NewDeviceSignIn:
    """A user signed in from a device they had not used before (the alerts domain mails them)."""

    user_id: uuid.UUID
    email: str
    name: str
    at: datetime
    client_ip: str | None
    user_agent: str | None
    device: str
    """The user-agent family, e.g. `Firefox on Linux`."""
