"""/api/me: the signed-in caller's own view (any role, any credential: session, token or key).

To add to it (packages, balances, keys), extend `describe_me`: it is the one place that
builds the answer of GET /api/me; `MeRead` documents it (and refuses a key it does not list).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel

from spectra.api.deps import ActorDep, ReadSessionDep, SessionDep
from spectra.audit.actor import Actor
from spectra.db.session import ReadSession
from spectra.errors import UnauthenticatedError
from spectra.policy import service as policy_service
from spectra.policy.reads import MemberViewRead
from spectra.users import service as users_service
from spectra.users.schemas import GroupRead, PasswordChange, UserRead
from spectra.web.signin import clear_session_cookies

router = APIRouter(prefix="/me", tags=["me"])


class _Caller(BaseModel):
    user: UserRead
    role: str
    via: str | None
    """The credential: `session`, `token` or `key`."""
    read_only: bool
    group: GroupRead


class MeRead(MemberViewRead, _Caller):
    """Who the caller is (`user`, `role`, `via`, `read_only`, `group`), then what they have."""


async def describe_me(session: ReadSession, actor: Actor) -> dict[str, Any]:
    """The caller's user, role, credential and group. Other domains add their sections here."""
    if actor.user_id is None:
        raise UnauthenticatedError("Only a signed-in user has a /api/me.")
    user = await users_service.get_user(session, actor, user=actor.user_id)
    return {
        "user": UserRead.model_validate(user).model_dump(mode="json"),
        "role": actor.role,
        "via": actor.via,
        "read_only": actor.read_only,
        "group": GroupRead.model_validate(user.group).model_dump(mode="json"),
        **await policy_service.member_view(session, actor, user_id=user.id),
    }


@router.get("")
async def get_me(session: ReadSessionDep, actor: ActorDep) -> MeRead:
    return MeRead.model_validate(await describe_me(session, actor))


@router.post("/password", status_code=204)
async def change_password(body: PasswordChange, session: SessionDep, actor: ActorDep) -> Response:
    """Change your own password (checks the current one); every session of yours ends, so sign in again."""
    await users_service.change_password(
        session, actor, current_password=body.current_password, new_password=body.new_password
    )
    response = Response(status_code=204)
    clear_session_cookies(response)
    return response
