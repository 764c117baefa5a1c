"""Console dependencies: the unit of work, and the signed-in viewer (session cookie -> Actor).

Every state-changing console request passes the CSRF check here: the same-origin check (when the
browser says where the request comes from), then the signed double-submit token of
`spectra.users.sessions`, sent as the `csrf_token` form field (or the `x-csrf-token` header, which
htmx requests carry).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request

from spectra.audit.actor import Actor, user_actor
from spectra.db.session import ReadSession, Session, read_scope
from spectra.errors import UnauthenticatedError
from spectra.kit.clock import utc_now
from spectra.users import service as users_service
from spectra.users.errors import CsrfError
from spectra.users.mfa import repository as mfa_repository
from spectra.users.mfa.errors import EnrolmentRequiredError, StepUpRequiredError
from spectra.users.models import User, UserSession
from spectra.users.permissions import Manage, Permission, Role, allows, can_manage, require
from spectra.users.scope import led_groups
from spectra.users.sessions import CSRF_HEADER, SESSION_COOKIE, csrf_for, csrf_matches
from spectra.web.deps import ReadSessionDep as ReadSessionDep
from spectra.web.deps import RuntimeDep as RuntimeDep
from spectra.web.deps import SessionDep as SessionDep
from spectra.web.deps import client_ip as client_ip
from spectra.web.deps import get_runtime as get_runtime
from spectra.workspace import service as workspace_service

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in person looking at the console: their Actor (what services check), their
    user row as of sign-in resolution, and the CSRF token to put in every form."""

    actor: Actor
    user_id: uuid.UUID
    email: str
    name: str
    role: str
    csrf_token: str
    authenticated_at: datetime | None = None
    """When this session last proved who the user is (sign-in or step-up)."""
    sign_in_method: str | None = None
    """`password`, `password+totp`, `passkey`, `sso`, ... (see UserSession.method)."""
    has_password: bool = True
    led_groups: frozenset[uuid.UUID] = frozenset()
    """The groups this viewer leads (team lead pages under /console/team)."""

    @property
    def is_lead(self) -> bool:
        return bool(self.led_groups) and not self.is_admin_viewer

    @property
    def is_admin_viewer(self) -> bool:
        """May see the admin pages (owner, admin, billing, auditor)."""
        return allows(self.actor, Permission.READ_ALL)

    def can(self, permission: Permission | str) -> bool:
        return allows(self.actor, Permission(permission))

    def can_manage(self, target: User, action: Manage | str) -> bool:
        """The users service's rank rule, to show only the actions on `target` that would pass."""
        return can_manage(self.actor, target, Manage(action))

    @property
    def is_member(self) -> bool:
        return self.role == Role.MEMBER.value


async def get_viewer(request: Request) -> Viewer:
    """The signed-in viewer, or UnauthenticatedError (the console answers with the sign-in page).

    Non-GET requests must carry a valid CSRF token; the token is checked before the page runs.
    """
    state = request.scope.setdefault("state", {})
    cached: Viewer | None = state.get("viewer")
    if cached is not None:
        return cached
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise UnauthenticatedError("Sign in to use the console.")
    async with read_scope(get_runtime(request).db) as session:
        row, user = await users_service.resolve_session(session, token=token)
        viewer = _viewer_for(user, token, request, row)
        viewer = replace(viewer, led_groups=frozenset(await led_groups(session, viewer.actor)))
        if not _may_enrol_here(request):
            await _check_mfa_policy(session, viewer)
    if request.method not in SAFE_METHODS:
        await check_csrf(request, token)
    state["viewer"] = viewer
    return viewer


ENROLMENT_PATHS = ("/console/account", "/console/logout")
"""What an admin who owes a second factor may still open: their account (enrolment) and sign-out."""


def _may_enrol_here(request: Request) -> bool:
    return request.url.path.startswith(ENROLMENT_PATHS)


async def _check_mfa_policy(session: ReadSession, viewer: Viewer) -> None:
    """The workspace may require a second factor of every admin role (owner, admin, billing,
    auditor) who signs in with a password; an SSO sign-in's factor is the identity provider's."""
    if viewer.is_member or viewer.sign_in_method == "sso" or not viewer.has_password:
        return
    if not (await workspace_service.get_settings(session)).mfa_required_for_admins:
        return
    if not await mfa_repository.has_factor(session, viewer.user_id):
        raise EnrolmentRequiredError(
            "This workspace requires a second factor for your role: enrol an authenticator app "
            "or a passkey to continue."
        )


async def require_recent_auth(session: ReadSession | Session, viewer: Viewer) -> None:
    """Refuse a sensitive action when the viewer's last authentication is older than the
    workspace's `step_up_minutes` (the console then asks to confirm it is you)."""
    minutes = (await workspace_service.get_settings(session)).step_up_minutes
    last = viewer.authenticated_at
    if last is not None and utc_now() - last <= timedelta(minutes=minutes):
        return
    raise StepUpRequiredError(
        f"This action needs a sign-in from the last {minutes} minutes; confirm it is you, "
        "then send the form again."
    )


def _viewer_for(user: User, token: str, request: Request, row: UserSession | None = None) -> Viewer:
    actor = user_actor(user_id=user.id, email=user.email, role=user.role, via="console")
    state = request.scope.get("state", {})
    return Viewer(
        actor=actor.with_request(state.get("request_id"), client_ip(request)),
        user_id=user.id,
        email=user.email,
        name=user.name,
        role=user.role,
        csrf_token=csrf_for(token),
        authenticated_at=None if row is None else (row.authenticated_at or row.created_at),
        sign_in_method=None if row is None else row.method,
        has_password=user.password_hash is not None,
    )


async def check_csrf(request: Request, session_token: str | None) -> None:
    """Refuse a state-changing request that comes from another site or lacks the form's token."""
    origin = request.headers.get("origin")
    if origin is not None and (
        origin == "null" or urlsplit(origin).netloc != request.headers.get("host")
    ):
        raise CsrfError(
            "This form was sent from another site; it was refused to protect your session."
        )
    presented = request.headers.get(CSRF_HEADER)
    if presented is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        presented = value if isinstance(value, str) else None
    if session_token is None or not csrf_matches(session_token, presented):
        raise CsrfError("This form has expired or was not sent from the console; reload the page.")


ViewerDep = Annotated[Viewer, Depends(get_viewer)]


def refusals_as_pages(request: Request) -> None:
    """A router dependency: a refused action there (`permission_denied`) answers with the 403
    error page and its stable code, not a flash back on the form's page (the team pages, where
    a lead acting outside the groups they lead must be told so plainly; see handlers.py)."""
    request.state.refusals_as_pages = True


async def get_admin_viewer(request: Request) -> Viewer:
    """A viewer who may see the admin pages (owner, admin, billing, auditor); members get a 403."""
    viewer = await get_viewer(request)
    require(viewer.actor, Permission.READ_ALL)
    return viewer


AdminDep = Annotated[Viewer, Depends(get_admin_viewer)]
