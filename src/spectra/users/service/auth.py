"""Passwords, setup links, console sign-in sessions, and the first start's owner."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from spectra.audit.actor import SYSTEM, Actor, user_actor
from spectra.audit.models import AuditEvent
from spectra.db.changes import record_change
from spectra.db.session import AnySession, Session
from spectra.kit.clock import utc_now
from spectra.users import passwords, repository, throttle
from spectra.users.errors import (
    CurrentPasswordWrongError,
    InvalidCredentialsError,
    SessionInvalidError,
    SetupLinkInvalidError,
    SignInLockedError,
    UserNotActiveError,
    UserNotFoundError,
    UserRemovedError,
    UserSuspendedError,
)
from spectra.users.mfa import repository as mfa_repository
from spectra.users.mfa.errors import SecondFactorRequiredError
from spectra.users.models import User, UserSession
from spectra.users.permissions import (
    Manage,
    Permission,
    ReadOnlyTokenError,
    Role,
    require,
    require_can_manage,
)
from spectra.users.sessions import csrf_for, hash_token, new_token
from spectra.users.sso import rules as sso_rules

from ._common import UserRef, audit_user, clean_email, default_group, load_user
from .members import IssuedSetupLink, _insert_user, _issue_setup_link

SESSION_TTL = timedelta(hours=12)
SECOND_FACTOR_TTL = timedelta(minutes=10)
"""How long a password-checked session waits for its second factor."""
_LOCKED_WHAT = {
    throttle.SCOPE_EMAIL_IP: "this email from your network address",
    throttle.SCOPE_IP: "your network address",
    throttle.SCOPE_ACCOUNT: "this email from many network addresses",
}
MAX_USER_AGENT = 300


def _actor_for(user: User, *, via: str) -> Actor:
    return user_actor(user_id=user.id, email=user.email, role=user.role, via=via)


async def _store_password(
    session: Session, user: User, password: str, *, issued_by: str | None
) -> None:
    """Store a new password with its provenance: `issued_by` is the label of whoever set it
    when that was not the user (then the account is no independent approver until the user
    changes it themselves), None when the user chose it."""
    passwords.check_rule(
        password, user_inputs=(user.email, user.email.partition("@")[0], user.name)
    )
    user.password_hash = passwords.hash_password(password)
    user.credential_issued_by = issued_by
    now = utc_now()
    await repository.retire_setup_links(session, user.id, at=now)
    await repository.end_sessions(session, user.id, at=now)
    if user.status == "invited":
        user.status = "active"
        await record_change(session, "users.status", user.id)
    await session.flush()


async def set_password(session: Session, actor: Actor, *, user: UserRef, password: str) -> User:
    """Set a user's password as an admin (or from `spectra users set-password`).

    Ends the user's sessions and unused setup links; activates an invited user. Needs a rank
    above the user's (`require_can_manage`): setting a password is signing in as them. Writes
    an audit event (never the password).
    """
    require(actor, Permission.USERS_WRITE)
    target = await load_user(session, user)
    require_can_manage(actor, target, Manage.CREDENTIALS)
    if target.status == "removed":
        raise UserRemovedError(f"{target.email} was removed; reactivate them first.")
    issued_by = None if actor.user_id == target.id else actor.label
    await _store_password(session, target, password, issued_by=issued_by)
    await audit_user(
        session, actor, "users.set_password", target, provenance=_provenance(issued_by)
    )
    return target


async def consume_setup_link(
    session: Session, *, token: str, password: str, client_ip: str | None = None
) -> User:
    """Set a password through a one-time link: unknown, used or expired links are refused.

    Single use: the link is spent in the same transaction. Writes an audit event as the user.
    """
    refused = SetupLinkInvalidError(
        "This setup link is unknown, already used or expired; ask an admin for a new one."
    )
    link = await repository.find_setup_link_by_hash(session, hash_token(token.strip()))
    if link is None or link.used_at is not None or link.expires_at <= utc_now():
        raise refused
    target = await load_user(session, link.user_id)
    if target.status in ("suspended", "removed"):
        raise refused
    issued_by = None if link.created_by == target.email else link.created_by
    await _store_password(session, target, password, issued_by=issued_by)
    actor = _actor_for(target, via="setup_link").with_request(None, client_ip)
    await audit_user(
        session, actor, "users.password_setup", target, provenance=_provenance(issued_by)
    )
    return target


async def change_password(
    session: Session, actor: Actor, *, current_password: str, new_password: str
) -> User:
    """Change the signed-in user's own password, checking the current one. Ends every session
    of the user (sign in again). Writes an audit event."""
    require(actor, Permission.SELF)
    if actor.read_only:
        raise ReadOnlyTokenError("This API token is read-only; it cannot change your password.")
    if actor.user_id is None:
        raise UserNotFoundError("Only a user can change their own password.")
    target = await load_user(session, actor.user_id)
    if not passwords.verify_password(target.password_hash, current_password):
        raise CurrentPasswordWrongError("The current password is wrong.")
    await _store_password(session, target, new_password, issued_by=None)
    await audit_user(session, actor, "users.change_password", target, provenance="self")
    return target


def _provenance(issued_by: str | None) -> str:
    return "self" if issued_by is None else f"issued:{issued_by}"


def credential_provenance(user: User) -> str:
    """`self` when the user chose their current password, `issued:<label>` when someone else
    set it (or issued the setup link it was set through) and the user has not changed it since."""
    return _provenance(user.credential_issued_by)


CREDENTIAL_EVENTS = ("users.set_password", "users.password_setup")
"""The audit actions that give a user a password other than by changing their own."""


async def credential_issuer(session: AnySession, user_id: uuid.UUID) -> str | None:
    """Who issued the password the user's current one descends from: the label of the last other
    user who set it or issued the setup link it was set through; None when nobody else ever did.
    Whatever the user did since (changed it, set it again themselves, a link they issued
    themselves) proves only knowledge of a password the issuer knew too, so it keeps the issuer:
    the four-eyes rule never counts such an account as independent of its issuer."""
    stmt = (
        select(AuditEvent.details)
        .where(
            AuditEvent.target_type == "user",
            AuditEvent.target_id == str(user_id),
            AuditEvent.action.in_(CREDENTIAL_EVENTS),
        )
        .order_by(AuditEvent.id.desc())
    )
    for details in (await session.execute(stmt)).scalars():
        provenance = str((details or {}).get("provenance") or "")
        if provenance.startswith("issued:"):
            return provenance.removeprefix("issued:")
    return None


def check_usable(user: User, *, allow_invited: bool = False) -> None:
    """Refuse a user who may not act now: suspended, removed or (unless `allow_invited`: API
    keys and tokens work before a console password is set) not yet set up."""
    if user.status == "suspended":
        reason = f" ({user.status_reason})" if user.status_reason else ""
        raise UserSuspendedError(
            f"Your account is suspended{reason}; ask an admin to reactivate it."
        )
    if user.status == "removed":
        raise UserRemovedError("Your account was removed; ask an admin if this is a mistake.")
    if user.status != "active" and not (allow_invited and user.status == "invited"):
        raise UserNotActiveError(
            "Your account is not set up yet; use the setup link an admin gave you."
        )


async def active_user(
    session: AnySession, user_id: uuid.UUID, *, allow_invited: bool = False
) -> User:
    """The user behind a credential, if they may act now (for authentication; no permission check)."""
    user = await repository.get_user(session, user_id)
    if user is None:
        raise InvalidCredentialsError("The user behind this credential no longer exists.")
    check_usable(user, allow_invited=allow_invited)
    return user


async def authenticate_password(
    session: Session, *, email: str, password: str, ip: str | None
) -> User:
    """The user whose email and password match, or a refusal. Rate limited per email and per IP
    (see `users/throttle.py`); a suspended user learns why only with the right password."""
    key = email.strip().lower()[:320]
    limiter = throttle.current()
    locked = await limiter.locked_for(email=key, ip=ip)
    if locked is not None:
        scope, seconds = locked
        minutes = max(1, int(seconds // 60) + (1 if seconds % 60 else 0))
        raise SignInLockedError(
            f"Too many failed sign-ins for {_LOCKED_WHAT[scope]}; try again in {minutes} "
            f"minute{'s' if minutes != 1 else ''}.",
            retry_after=int(seconds) + 1,
        )
    user = await repository.find_user_by_email(session, key)
    ok = passwords.verify_password(user.password_hash if user else None, password)
    if user is None or not ok or user.status in ("removed", "invited"):
        await limiter.record_failure(email=key, ip=ip)
        raise InvalidCredentialsError("The email or password is wrong.")
    await limiter.record_success(email=key, ip=ip)
    check_usable(user)
    lockouts = await limiter.take_lockouts(email=key)
    if lockouts:
        # The failed attempts' own units of work rolled back: this is the first committed
        # moment to tell the user (and every admin reading the audit log) that it happened.
        await audit_user(
            session,
            SYSTEM,
            "auth.sign_in_locked",
            user,
            lockouts=[{"scope": lock.scope, "ip": lock.ip, "at": lock.at} for lock in lockouts],
        )
    if user.password_hash and passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return user


@dataclass(frozen=True, slots=True)
class NewSession:
    """A console session; `token` (the cookie value) and `csrf_token` exist only here."""

    row: UserSession
    user: User
    token: str
    csrf_token: str

    @property
    def expires_at(self) -> datetime:
        return self.row.expires_at


async def create_session(
    session: Session,
    *,
    user: User,
    client_ip: str | None = None,
    user_agent: str | None = None,
    ttl: timedelta = SESSION_TTL,
    method: str = "password",
    second_factor_pending: bool = False,
) -> NewSession:
    """Open a console session for an authenticated user; only the token's keyed hash is stored.
    A session that still owes its second factor lives `SECOND_FACTOR_TTL` and opens no page."""
    now = utc_now()
    token = new_token()
    row = UserSession(
        user_id=user.id,
        token_hash=hash_token(token),
        created_at=now,
        expires_at=now + (SECOND_FACTOR_TTL if second_factor_pending else ttl),
        client_ip=client_ip,
        user_agent=(user_agent or "")[:MAX_USER_AGENT] or None,
        method=method,
        second_factor_pending=second_factor_pending,
        authenticated_at=None if second_factor_pending else now,
    )
    session.add(row)
    user.last_seen_at = now
    await session.flush()
    return NewSession(row=row, user=user, token=token, csrf_token=csrf_for(token))


async def sign_in(
    session: Session,
    *,
    email: str,
    password: str,
    client_ip: str | None = None,
    user_agent: str | None = None,
    ttl: timedelta = SESSION_TTL,
) -> NewSession:
    """Check email and password, then open a session. Writes an `auth.sign_in` audit event.

    A user with a second factor gets a pending session instead (`second_factor_pending`): the
    sign-in is audited once the factor is given (`users.mfa.service.complete_sign_in`)."""
    user = await authenticate_password(session, email=email, password=password, ip=client_ip)
    await sso_rules.check_password_sign_in(session, user)
    if await mfa_repository.has_factor(session, user.id):
        return await create_session(
            session,
            user=user,
            client_ip=client_ip,
            user_agent=user_agent,
            ttl=ttl,
            second_factor_pending=True,
        )
    opened = await create_session(
        session, user=user, client_ip=client_ip, user_agent=user_agent, ttl=ttl
    )
    actor = _actor_for(user, via="session").with_request(None, client_ip)
    await audit_user(session, actor, "auth.sign_in", user, session_id=str(opened.row.id))
    return opened


async def resolve_session(session: AnySession, *, token: str) -> tuple[UserSession, User]:
    """The live session and its usable user for a cookie token, or a refusal."""
    row = await repository.find_session_by_hash(session, hash_token(token))
    if row is None or row.ended_at is not None:
        raise SessionInvalidError("Your session has ended; sign in again.")
    if row.expires_at <= utc_now():
        raise SessionInvalidError("Your session has expired; sign in again.")
    if row.second_factor_pending:
        raise SecondFactorRequiredError(
            "Enter the code from your authenticator app, or use your passkey, to finish signing in."
        )
    return row, await active_user(session, row.user_id)


async def end_session(session: Session, *, token: str) -> None:
    """Sign out: end the session behind `token` (idempotent)."""
    row = await repository.find_session_by_hash(session, hash_token(token))
    if row is not None and row.ended_at is None:
        row.ended_at = utc_now()
        await session.flush()


async def ensure_owner(session: Session, *, email: str) -> IssuedSetupLink | None:
    """First start: make sure the `default` group exists and that there is an owner.

    When there is none, create `email` as an invited owner and return a one-time setup link to
    print once (None when an owner already exists). Audited as `system`.
    """
    await default_group(session)
    if await repository.any_owner(session) is not None:
        return None
    existing = await repository.find_user_by_email(session, clean_email(email))
    if existing is not None:
        # Someone reused the owner's email for another account: promote it rather than fail start-up.
        existing.role = Role.OWNER.value
        if existing.status != "active":
            existing.status = "invited" if existing.password_hash is None else "active"
        await session.flush()
        await audit_user(session, SYSTEM, "users.change_role", existing, after={"role": "owner"})
        if existing.status == "active":
            return None
        return await _issue_setup_link(session, SYSTEM, existing)
    owner = await _insert_user(
        session, SYSTEM, email=email, name="Owner", role="owner", group=None, status="invited"
    )
    return await _issue_setup_link(session, SYSTEM, owner)
