"""/api/users: create, invite, import, read, update, suspend, reactivate, remove, role, group,
password, setup links and second-factor reset. A user is named in the path by id or by email."""

from __future__ import annotations

from fastapi import APIRouter, Query

from spectra.api.deps import ActorDep, ReadSessionDep, RuntimeDep, SessionDep
from spectra.kit.pagination import ListResource
from spectra.users import service as users_service
from spectra.users.mfa import service as mfa_service
from spectra.users.mfa.schemas import MfaResetRead
from spectra.users.schemas import (
    GroupMove,
    ImportReport,
    MembershipAdd,
    MembershipRead,
    PasswordSet,
    RoleChange,
    SetupLinkRead,
    UserCreate,
    UserCreated,
    UserImport,
    UserRead,
    UserSuspend,
    UserUpdate,
)
from spectra.users.sessions import setup_path

router = APIRouter(prefix="/users", tags=["users"])


def _link(runtime: RuntimeDep, issued: users_service.IssuedSetupLink) -> SetupLinkRead:
    if issued.mailed_to is not None:
        # E-mailed through the outbox: the issuer sees where it went, never the link.
        return SetupLinkRead(sent_to=issued.mailed_to, expires_at=issued.expires_at)
    url = runtime.settings.public_base() + setup_path(issued.token)
    return SetupLinkRead(token=issued.token, url=url, expires_at=issued.expires_at)


@router.get("")
async def list_users(
    session: ReadSessionDep,
    actor: ActorDep,
    status: str | None = None,
    role: str | None = None,
    group: str | None = None,
    q: str | None = Query(default=None, max_length=200, description="Text in the email or name."),
    limit: int | None = None,
    cursor: str | None = None,
) -> ListResource[UserRead]:
    page = await users_service.list_users(
        session, actor, status=status, role=role, group=group, text=q, limit=limit, cursor=cursor
    )
    return ListResource[UserRead].model_validate(page)


@router.post("", status_code=201)
async def create_user(
    body: UserCreate, session: SessionDep, actor: ActorDep, runtime: RuntimeDep
) -> UserCreated:
    """Create a user (in `default` unless `group` names another). With `invite`, the user starts
    `invited` and the answer carries a one-time password-setup link, shown this once."""
    fields = body.model_dump(exclude={"invite"})
    if body.invite:
        issued = await users_service.invite_user(session, actor, **fields)
        created = UserCreated.model_validate(issued.user)
        created.setup_link = _link(runtime, issued)
        return created
    return UserCreated.model_validate(await users_service.create_user(session, actor, **fields))


@router.post("/import", status_code=201)
async def import_users(body: UserImport, session: SessionDep, actor: ActorDep) -> ImportReport:
    """Import CSV lines `email,name,group,role`: all or nothing. A rejected file answers 422
    `import_rejected` with `details.rejected` = [{line, email, reason}]."""
    created = await users_service.import_users(session, actor, csv_text=body.csv)
    return ImportReport(created=len(created), users=[UserRead.model_validate(u) for u in created])


@router.get("/{user_ref}")
async def get_user(user_ref: str, session: ReadSessionDep, actor: ActorDep) -> UserRead:
    return UserRead.model_validate(await users_service.get_user(session, actor, user=user_ref))


@router.patch("/{user_ref}")
async def update_user(
    user_ref: str, body: UserUpdate, session: SessionDep, actor: ActorDep
) -> UserRead:
    return UserRead.model_validate(
        await users_service.update_user(session, actor, user=user_ref, **body.model_dump())
    )


@router.delete("/{user_ref}")
async def remove_user(
    user_ref: str,
    session: SessionDep,
    actor: ActorDep,
    reason: str | None = Query(default=None, max_length=500),
) -> UserRead:
    """Remove a user (soft: history, usage and ledger stay)."""
    return UserRead.model_validate(
        await users_service.remove_user(session, actor, user=user_ref, reason=reason)
    )


@router.post("/{user_ref}/suspend")
async def suspend_user(
    user_ref: str, body: UserSuspend, session: SessionDep, actor: ActorDep
) -> UserRead:
    return UserRead.model_validate(
        await users_service.suspend_user(session, actor, user=user_ref, reason=body.reason)
    )


@router.post("/{user_ref}/reactivate")
async def reactivate_user(user_ref: str, session: SessionDep, actor: ActorDep) -> UserRead:
    return UserRead.model_validate(
        await users_service.reactivate_user(session, actor, user=user_ref)
    )


@router.post("/{user_ref}/role")
async def change_role(
    user_ref: str, body: RoleChange, session: SessionDep, actor: ActorDep
) -> UserRead:
    return UserRead.model_validate(
        await users_service.change_role(session, actor, user=user_ref, role=body.role.value)
    )


@router.post("/{user_ref}/group")
async def move_group(
    user_ref: str, body: GroupMove, session: SessionDep, actor: ActorDep
) -> UserRead:
    return UserRead.model_validate(
        await users_service.move_group(session, actor, user=user_ref, group=body.group)
    )


@router.post("/{user_ref}/password")
async def set_password(
    user_ref: str, body: PasswordSet, session: SessionDep, actor: ActorDep
) -> UserRead:
    """Set a user's password as an admin; ends the user's sessions."""
    return UserRead.model_validate(
        await users_service.set_password(session, actor, user=user_ref, password=body.password)
    )


@router.post("/{user_ref}/setup-link", status_code=201)
async def create_setup_link(
    user_ref: str, session: SessionDep, actor: ActorDep, runtime: RuntimeDep
) -> SetupLinkRead:
    """A one-time password-setup link (72 hours), shown this once; older unused links stop working."""
    return _link(runtime, await users_service.create_setup_link(session, actor, user=user_ref))


@router.post("/{user_ref}/mfa/reset")
async def reset_mfa(user_ref: str, session: SessionDep, actor: ActorDep) -> MfaResetRead:
    """Remove every second factor of a user (authenticator app, passkeys, recovery codes), so
    they sign in with the password alone and may enrol again. Audited as `users.mfa_reset`."""
    user = await users_service.load_user(session, user_ref)
    removed = await mfa_service.reset_factors(session, actor, user=user.id)
    return MfaResetRead(email=user.email, **removed)


@router.get("/{user_ref}/groups")
async def list_user_groups(
    user_ref: str, session: ReadSessionDep, actor: ActorDep
) -> ListResource[MembershipRead]:
    """The user's groups: the primary one (funds by default) first, then the secondary ones."""
    page = await users_service.list_memberships(session, actor, user=user_ref)
    return ListResource[MembershipRead].model_validate(page)


@router.post("/{user_ref}/groups", status_code=201)
async def add_user_group(
    user_ref: str, body: MembershipAdd, session: SessionDep, actor: ActorDep
) -> MembershipRead:
    """Add the user to another group (secondary; their primary group still funds by default)."""
    view = await users_service.add_membership(session, actor, user=user_ref, group=body.group)
    return MembershipRead.model_validate(view)


@router.delete("/{user_ref}/groups/{group_ref}", status_code=204)
async def remove_user_group(
    user_ref: str, group_ref: str, session: SessionDep, actor: ActorDep
) -> None:
    """Take the user out of a secondary group (their keys bound to it fall back to the primary)."""
    await users_service.remove_membership(session, actor, user=user_ref, group=group_ref)
