"""A rollout's owner and watchers: the people who hear of each automatic decision (promotion,
pause, rollback, a wave waiting for an approval) in their inbox and by email. Setting the owner,
adding and removing a watcher are one audited action each."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, select

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db.session import AnySession, Session
from spectra.kit.clock import utc_now
from spectra.users import service as users_service
from spectra.users.models import User
from spectra.users.permissions import Permission, require

from .errors import RolloutWatcherNotFoundError
from .models import Rollout, RolloutWatcher
from .rollouts import get_rollout


def _person(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": str(user.id), "email": user.email, "name": user.name}


async def _audit(session: Session, actor: Actor, rollout: Rollout, action: str, **kw: Any) -> None:
    await audit_service.record_on(session, actor, action, "rollout", rollout, **kw)


async def set_owner(session: Session, actor: Actor, *, rollout: str, user: str | None) -> Rollout:
    """Make the user (by email or id) the rollout's owner; None clears it. Writes an audit
    event."""
    require(actor, Permission.POLICY_WRITE)
    found = (await get_rollout(session, actor, rollout=rollout)).rollout
    owner = None if user is None else await users_service.get_user(session, actor, user=user)
    before = found.owner_id
    found.owner_id = owner.id if owner is not None else None
    await session.flush()
    await _audit(
        session,
        actor,
        found,
        "rollouts.owner",
        before={"owner_id": str(before) if before else None},
        after={"owner_id": str(found.owner_id) if found.owner_id else None, "owner": user},
    )
    return found


async def add_watcher(session: Session, actor: Actor, *, rollout: str, user: str) -> User:
    """Add a watcher to the rollout; adding one who watches already changes nothing (and writes
    nothing). Writes an audit event."""
    require(actor, Permission.POLICY_WRITE)
    found = (await get_rollout(session, actor, rollout=rollout)).rollout
    person = await users_service.get_user(session, actor, user=user)
    if await _watch_row(session, found.id, person.id) is not None:
        return person
    session.add(
        RolloutWatcher(
            rollout_id=found.id, user_id=person.id, created_at=utc_now(), created_by=actor.label
        )
    )
    await session.flush()
    await _audit(session, actor, found, "rollouts.watch.add", after={"watcher": person.email})
    return person


async def remove_watcher(session: Session, actor: Actor, *, rollout: str, user: str) -> User:
    """Remove a watcher from the rollout. Writes an audit event."""
    require(actor, Permission.POLICY_WRITE)
    found = (await get_rollout(session, actor, rollout=rollout)).rollout
    person = await users_service.get_user(session, actor, user=user)
    row = await _watch_row(session, found.id, person.id)
    if row is None:
        raise RolloutWatcherNotFoundError(
            f"{person.email} does not watch rollout '{found.name}'.", user=person.email
        )
    await session.execute(delete(RolloutWatcher).where(RolloutWatcher.id == row.id))
    await _audit(session, actor, found, "rollouts.watch.remove", before={"watcher": person.email})
    return person


async def _watch_row(
    session: AnySession, rollout_id: uuid.UUID, user_id: uuid.UUID
) -> RolloutWatcher | None:
    stmt = select(RolloutWatcher).where(
        RolloutWatcher.rollout_id == rollout_id, RolloutWatcher.user_id == user_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def _watchers(session: AnySession, rollout_id: uuid.UUID) -> list[User]:
    stmt = (
        select(User)
        .join(RolloutWatcher, RolloutWatcher.user_id == User.id)
        .where(RolloutWatcher.rollout_id == rollout_id)
        .order_by(User.email)
    )
    return list((await session.execute(stmt)).scalars())


async def people(session: AnySession, actor: Actor, *, rollout: str) -> dict[str, Any]:
    """The rollout's owner and watchers (id, email, name)."""
    found = (await get_rollout(session, actor, rollout=rollout)).rollout
    owner = await session.get(User, found.owner_id) if found.owner_id else None
    return {
        "rollout": found.name,
        "owner": _person(owner),
        "watchers": [_person(u) for u in await _watchers(session, found.id)],
    }


async def recipients(session: AnySession, rollout: Rollout) -> list[User]:
    """Who hears of the rollout's decisions: the owner, then the watchers; each once, active
    users only."""
    found: dict[uuid.UUID, User] = {}
    if rollout.owner_id is not None:
        owner = await session.get(User, rollout.owner_id)
        if owner is not None:
            found[owner.id] = owner
    for user in await _watchers(session, rollout.id):
        found.setdefault(user.id, user)
    return [u for u in found.values() if u.status == "active"]
