"""Builders for keys tests: actors for users, and keys made through the service."""

from __future__ import annotations

from typing import Any

from tests.factories import make_user

from spectra.audit.actor import Actor, local_actor, user_actor
from spectra.db.session import Session
from spectra.keys import service as keys_service
from spectra.keys.models import AdminToken, MemberKey
from spectra.users.models import User


def actor_for(user: User, *, read_only: bool = False) -> Actor:
    return user_actor(
        user_id=user.id, email=user.email, role=user.role, via="token", read_only=read_only
    )


async def make_member(session: Session, **overrides: Any) -> User:
    return await make_user(session, **{"role": "member", **overrides})


async def make_admin(session: Session, **overrides: Any) -> User:
    return await make_user(session, **{"role": "admin", **overrides})


async def make_key(session: Session, user: User, **overrides: Any) -> tuple[MemberKey, str]:
    return await keys_service.create_key(session, local_actor(), user_id=user.id, **overrides)


async def make_token(session: Session, user: User, **overrides: Any) -> tuple[AdminToken, str]:
    return await keys_service.create_token(session, local_actor(), user_id=user.id, **overrides)
