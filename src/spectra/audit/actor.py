"""Who made a change: a user (session or token), `local:<os user>`, `system` or `gateway`."""

from __future__ import annotations

import getpass
import uuid
from dataclasses import dataclass, replace
from enum import StrEnum


class ActorKind(StrEnum):
    USER = "user"
    LOCAL = "local"
    SYSTEM = "system"
    GATEWAY = "gateway"


@dataclass(frozen=True, slots=True)
class Actor:
    kind: ActorKind
    label: str
    """Email for users, `local:<os user>`, `system`, `gateway`."""
    user_id: uuid.UUID | None = None
    role: str = "owner"
    read_only: bool = False
    via: str | None = None
    """How a user acted: `session`, `token` or `key`."""
    request_id: str | None = None
    client_ip: str | None = None

    @property
    def identity(self) -> str:
        """Stable identity for four-eyes checks: two different local OS users are two actors."""
        return str(self.user_id) if self.user_id else self.label

    def with_request(self, request_id: str | None, client_ip: str | None) -> Actor:
        return replace(self, request_id=request_id, client_ip=client_ip)


def local_actor() -> Actor:
    """The `spectra` command acting on the data directory: owner rights."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "unknown"
    return Actor(kind=ActorKind.LOCAL, label=f"local:{name}", role="owner")


SYSTEM = Actor(kind=ActorKind.SYSTEM, label="system", role="owner")
GATEWAY = Actor(kind=ActorKind.GATEWAY, label="gateway", role="owner")


def user_actor(
    *, user_id: uuid.UUID, email: str, role: str, via: str, read_only: bool = False
) -> Actor:
    return Actor(
        kind=ActorKind.USER, label=email, user_id=user_id, role=role, via=via, read_only=read_only
    )
