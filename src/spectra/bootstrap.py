"""First start: the built-in `default` group and the owner account, announced once on the terminal.

The owner is created `invited` with a one-time password-setup link (72 hours). The link is
returned as lines for `spectra serve` to print once on stdout; it is never logged and only its
keyed hash is stored, so a later start cannot print it again (`spectra users setup-link EMAIL`
issues a new one).
"""

from __future__ import annotations

import os

from spectra.db.session import session_scope
from spectra.runtime import Runtime
from spectra.users import service as users_service
from spectra.users.sessions import setup_path


async def first_start(runtime: Runtime) -> list[str]:
    """Create the default group and, if there is no owner, the owner; return lines to print once."""
    email = os.environ.get("SPECTRA_OWNER_EMAIL", "owner@spectra.local")
    async with session_scope(runtime.db) as session:
        issued = await users_service.ensure_owner(session, email=email)
    if issued is None:
        return []
    base = runtime.settings.public_base()
    return [
        "",
        f"First start: the owner account {issued.user.email} was created.",
        "Choose its password once, before "
        f"{issued.expires_at.strftime('%Y-%m-%d %H:%M UTC')}, by opening:",
        f"  {base}{setup_path(issued.token)}",
        f"(or on this machine: spectra users set-password {issued.user.email} < password-file)",
        "This link is shown only now and is not written to any log.",
        "",
    ]
