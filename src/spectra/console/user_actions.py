"""The user page's one-form actions (suspend, reactivate, remove, role, group, secondary
groups, edit, password): each calls the users service with the viewer's Actor and says what it
did. console/pages/users.py serves each at POST /console/users/{id}/<name> and returns to the user page
with the sentence."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from spectra.console.forms import Form
from spectra.users import service as users_service
from spectra.users.models import User

Action = Callable[[Any, Any, uuid.UUID, Form], Awaitable[tuple[User, str]]]


async def _suspend(session: Any, actor: Any, user_id: uuid.UUID, form: Form) -> tuple[User, str]:
    reason = form["reason"] or "suspended by an admin"
    user = await users_service.suspend_user(session, actor, user=user_id, reason=reason)
    return user, f"{user.email} is suspended."


async def _reactivate(session: Any, actor: Any, user_id: uuid.UUID, _: Form) -> tuple[User, str]:
    user = await users_service.reactivate_user(session, actor, user=user_id)
    return user, f"{user.email} is active again."


async def _remove(session: Any, actor: Any, user_id: uuid.UUID, form: Form) -> tuple[User, str]:
    reason = form.get("reason")
    user = await users_service.remove_user(session, actor, user=user_id, reason=reason)
    return user, f"{user.email} is removed; their history stays."


async def _role(session: Any, actor: Any, user_id: uuid.UUID, form: Form) -> tuple[User, str]:
    user = await users_service.change_role(session, actor, user=user_id, role=form["role"])
    return user, f"{user.email} is now {user.role}."


async def _group(session: Any, actor: Any, user_id: uuid.UUID, form: Form) -> tuple[User, str]:
    user = await users_service.move_group(session, actor, user=user_id, group=form["group"])
    return user, f"{user.email} moved to {form['group']}."


async def _add_group(session: Any, actor: Any, user_id: uuid.UUID, form: Form) -> tuple[User, str]:
    """Add the user to a secondary group (the primary one still funds by default)."""
    user = await users_service.load_user(session, user_id)
    view = await users_service.add_membership(session, actor, user=user_id, group=form["group"])
    return user, f"{user.email} is also in {view.group}."


async def _leave(session: Any, actor: Any, user_id: uuid.UUID, form: Form) -> tuple[User, str]:
    user = await users_service.load_user(session, user_id)
    await users_service.remove_membership(session, actor, user=user_id, group=form["group"])
    return user, f"{user.email} left {form['group']}."


async def _edit(session: Any, actor: Any, user_id: uuid.UUID, form: Form) -> tuple[User, str]:
    email, name = form.get("email"), form.get("name")
    user = await users_service.update_user(session, actor, user=user_id, email=email, name=name)
    return user, "Saved."


async def _password(session: Any, actor: Any, user_id: uuid.UUID, form: Form) -> tuple[User, str]:
    password = form.data.get("password", "")
    user = await users_service.set_password(session, actor, user=user_id, password=password)
    return user, f"{user.email}'s password is set; their sessions ended."


USER_ACTIONS: dict[str, Action] = {
    "suspend": _suspend,
    "reactivate": _reactivate,
    "remove": _remove,
    "role": _role,
    "group": _group,
    "groups": _add_group,
    "groups/remove": _leave,
    "edit": _edit,
    "password": _password,
}
"""The user page's one-form actions: POST /console/users/{id}/<name> runs the action and
returns to the user page with its sentence."""
