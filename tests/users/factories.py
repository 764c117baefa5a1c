"""Builders for users tests: actors for users, and audit rows to assert on."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from tests.factories import make_user

from spectra.audit.actor import Actor, user_actor
from spectra.audit.models import AuditEvent
from spectra.db.session import Session
from spectra.users.models import User

PASSWORD = "correct horse battery staple"


def actor_for(user: User, *, via: str = "session", read_only: bool = False) -> Actor:
    return user_actor(
        user_id=user.id, email=user.email, role=user.role, via=via, read_only=read_only
    )


async def make_owner(session: Session, **overrides: Any) -> User:
    return await make_user(session, **{"role": "owner", **overrides})


async def last_audit(session: Session, action: str | None = None) -> AuditEvent:
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)
    if action is not None:
        stmt = (
            select(AuditEvent)
            .where(AuditEvent.action == action)
            .order_by(AuditEvent.id.desc())
            .limit(1)
        )
    event = (await session.execute(stmt)).scalar_one_or_none()
    assert event is not None, f"no audit event {action or ''}"
    return event
