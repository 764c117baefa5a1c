"""The rule password sign-in obeys when a provider requires single sign-on. No import of the
users service, so the password sign-in may call it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from spectra.users.models import User

from . import repository
from .errors import SsoRequiredError


async def check_password_sign_in(session: AsyncSession, user: User) -> None:
    """Refuse a password sign-in while an enabled provider requires SSO, unless `user` is that
    provider's named break-glass owner (and still an owner)."""
    requiring = [
        p for p in await repository.list_providers(session, enabled_only=True) if p.require_sso
    ]
    if not requiring:
        return
    if user.role == "owner" and all(p.break_glass_user_id == user.id for p in requiring):
        return
    names = ", ".join(p.name for p in requiring)
    raise SsoRequiredError(
        f"This workspace requires single sign-on; use the '{names}' button to sign in.",
        providers=[p.name for p in requiring],
    )
