"""Devices and sessions of the signed-in user: recognising the device of a sign-in (a new one is
mailed through the `NewDeviceSignIn` event), and the sessions page the mail links to."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError

from spectra.audit.actor import Actor
from spectra.db import events
from spectra.db.session import AnySession, Session
from spectra.kit.clock import utc_now
from spectra.users import devices, repository
from spectra.users.errors import UserNotFoundError
from spectra.users.events import NewDeviceSignIn
from spectra.users.models import KnownDevice, User, UserSession
from spectra.users.permissions import Permission, require
from spectra.users.sessions import hash_token

from ._common import audit_user


async def recognise_device(
    session: Session,
    *,
    user: User,
    device_cookie: str | None,
    user_agent: str | None,
    client_ip: str | None,
) -> str:
    """Note the device of a completed sign-in (password, second factor, passkey or SSO) and
    return the device cookie value to set (the same one, or a new one when the browser sent
    none or a forged one).

    A device is the cookie's id paired with the user-agent family; only a keyed hash is kept.
    One not seen before publishes `NewDeviceSignIn` (the user is mailed), except the account's
    very first device: there is nothing to compare it with."""
    device_id = devices.device_id_of(device_cookie)
    cookie = device_cookie or ""
    if device_id is None:
        device_id, cookie = devices.new_device_cookie()
    family = devices.user_agent_family(user_agent)
    digest = devices.device_hash(user.id, device_id, family)
    now = utc_now()
    known = await repository.find_known_device(session, digest)
    if known is not None:
        known.last_seen_at = now
        await session.flush()
        return cookie
    first = not await repository.has_known_device(session, user.id)
    try:
        async with session.begin_nested():
            session.add(
                KnownDevice(
                    user_id=user.id,
                    device_hash=digest,
                    label=family[:100],
                    first_seen_at=now,
                    last_seen_at=now,
                )
            )
            await session.flush()
    except IntegrityError:
        return cookie  # the same device signed in twice at once: the other one mails
    if not first:
        event = NewDeviceSignIn(
            user_id=user.id,
            email=user.email,
            name=user.name,
            at=now,
            client_ip=client_ip,
            user_agent=user_agent,
            device=family,
        )
        await events.publish(session, event)
    return cookie


async def own_sessions(session: AnySession, actor: Actor) -> list[UserSession]:
    """The acting user's live console sessions, newest first (the page a new-device mail
    links to)."""
    require(actor, Permission.SELF)
    if actor.user_id is None:
        raise UserNotFoundError("Only a signed-in user has sessions.")
    return await repository.live_sessions(session, actor.user_id, now=utc_now())


async def end_other_sessions(session: Session, actor: Actor, *, current_token: str) -> int:
    """Sign out every other session of the acting user (after a sign-in they do not recognise,
    with changing the password next). Writes `auth.sessions_ended`; returns how many ended."""
    require(actor, Permission.SELF)
    if actor.user_id is None:
        raise UserNotFoundError("Only a signed-in user has sessions.")
    current = await repository.find_session_by_hash(session, hash_token(current_token))
    keep: uuid.UUID | None = current.id if current is not None else None
    ended = await repository.end_sessions(session, actor.user_id, at=utc_now(), keep=keep)
    user = await repository.get_user(session, actor.user_id)
    if user is not None and ended:
        await audit_user(session, actor, "auth.sessions_ended", user, ended=ended)
    return ended
