"""First start: the built-in `default` group and the owner account, announced once on the terminal.

The owner is created `invited` with a one-time password-setup link (72 hours). The link is
returned as lines for `spectra serve` to show once: on the terminal when stdout is one, else
(a service manager sends stdout to its journal) in a 0600 file in the data directory whose path
is printed instead. It is never logged and only its keyed hash is stored, so a later start
cannot show it again (`spectra users setup-link EMAIL` issues a new one).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO

from spectra.db.session import session_scope
from spectra.kit.files import PRIVATE_FILE, private_dir
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


SETUP_LINK_FILE = "owner-setup-link.txt"


def announce(lines: list[str], *, data_dir: Path, stdout: TextIO) -> list[str]:
    """What `spectra serve` prints of the first start's `lines`: themselves on a terminal; on
    anything else (a pipe, a journal) one line naming the 0600 file they were written to."""
    if not lines or stdout.isatty():
        return lines
    private_dir(data_dir)
    path = data_dir / SETUP_LINK_FILE
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join(lines).strip() + "\n")
    return [
        "",
        f"First start: how to set the owner's password is in {path.resolve()} "
        "(readable only by this user; delete it once used).",
        "",
    ]
