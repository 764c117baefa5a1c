"""First start: the built-in `default` group and the owner account, announced once on the terminal."""

from __future__ import annotations

import os
import secrets

from argon2 import PasswordHasher
from sqlalchemy import select

from spectra.audit import service as audit_service
from spectra.audit.actor import SYSTEM
from spectra.db.session import session_scope
from spectra.runtime import Runtime
from spectra.users.models import DEFAULT_GROUP, Group, User


async def first_start(runtime: Runtime) -> list[str]:
    """Create the default group and, if there is no owner, the owner; return lines to print once."""
    async with session_scope(runtime.db) as session:
        group = (
            await session.execute(select(Group).where(Group.name_key == DEFAULT_GROUP))
        ).scalar_one_or_none()
        if group is None:
            group = Group(
                name=DEFAULT_GROUP,
                name_key=DEFAULT_GROUP,
                description="Members created without a group.",
                is_builtin=True,
            )
            session.add(group)
            await session.flush()
            await audit_service.record(
                session,
                SYSTEM,
                "groups.create",
                target_type="group",
                target_id=group.id,
                target_label=group.name,
                after={"name": group.name},
            )
        owner = (
            await session.execute(
                select(User).where(User.role == "owner", User.status == "active").limit(1)
            )
        ).scalar_one_or_none()
        if owner is not None:
            return []
        email = os.environ.get("SPECTRA_OWNER_EMAIL", "owner@spectra.local").strip().lower()
        password = secrets.token_urlsafe(12)
        user = User(
            email=email,
            name="Owner",
            role="owner",
            status="active",
            group_id=group.id,
            password_hash=PasswordHasher().hash(password),
        )
        session.add(user)
        await session.flush()
        await audit_service.record(
            session,
            SYSTEM,
            "users.create",
            target_type="user",
            target_id=user.id,
            target_label=email,
            after={"email": email, "role": "owner"},
        )
    base = runtime.settings.public_base()
    return [
        "",
        "First start: the owner account was created. Sign in once with:",
        f"  URL:      {base}/console/login",
        f"  Email:    {email}",
        f"  Password: {password}",
        "This password is shown only now and is not written to any log; change it after signing in.",
        "",
    ]
