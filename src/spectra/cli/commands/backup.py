"""`spectra backup`, `spectra restore` and `spectra secret rotate-credentials`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from spectra.cli import context
from spectra.cli.options import JsonOpt
from spectra.cli.output import console, fail_error, print_json
from spectra.errors import SpectraError

if TYPE_CHECKING:
    from spectra.audit.actor import Actor
    from spectra.db.backup import BackupSummary
    from spectra.db.session import Session


secret_app = typer.Typer(help="The server secret and its subkeys.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)
    app.command("restore")(restore)
    app.add_typer(secret_app, name="secret")


def backup(
    path: Annotated[Path, typer.Argument(help="The archive to write (.tar.gz).")],
    as_json: JsonOpt = False,
) -> None:
    """Back up the SQLite database (consistent while serving) and the secret key."""
    from spectra.cli.workspace import announce
    from spectra.config import get_settings
    from spectra.db import backup as db_backup

    announce()
    settings = get_settings()
    try:
        summary = db_backup.create_backup(settings, path)
    except SpectraError as exc:
        fail_error(exc)
    if as_json:
        print_json(_summary(summary))
        return
    console.print(f"Backup written to {summary.path} (keep it private: it holds the secret key).")
    if not summary.has_database:
        console.print("The database is PostgreSQL: back it up with pg_dump (docs/operations.md).")


def restore(
    path: Annotated[Path, typer.Argument(help="An archive written by `spectra backup`.")],
    force: Annotated[bool, typer.Option(help="Replace an existing database and key.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Restore the SQLite database and the secret key from a backup (stop the server first)."""
    from spectra.cli.workspace import announce
    from spectra.config import get_settings
    from spectra.db import backup as db_backup

    announce(discover=False)
    settings = get_settings()
    try:
        summary = db_backup.restore_backup(settings, path, force=force)
    except SpectraError as exc:
        fail_error(exc)
    if as_json:
        print_json(_summary(summary))
        return
    console.print(
        f"Restored the backup of {summary.created_at}; run `spectra migrate` if this "
        "version is newer, then start the server."
    )


@secret_app.command("rotate-credentials")
def rotate_credentials(as_json: JsonOpt = False) -> None:
    """Move credential encryption to a new subkey and re-encrypt, in one transaction, every
    upstream credential, alert channel target and sealed setting (the SMTP password); member
    keys and tokens are not touched. Restart running servers afterwards."""

    from spectra.alerts.rotation import rotate_secrets

    async def go(session: Session, actor: Actor) -> dict[str, int]:
        return await rotate_secrets(session, actor)

    counts = context.run_local(go)
    if as_json:
        print_json({"reencrypted": counts["credentials"], **counts})
        return
    console.print(
        f"Re-encrypted {counts['credentials']} upstream credentials, "
        f"{counts['alert_channels']} alert channels and {counts['settings']} sealed settings "
        "under the new subkey."
    )


def _summary(summary: BackupSummary) -> dict[str, Any]:
    """A backup's `--json` answer (`create_backup` and `restore_backup` both describe one)."""
    return {
        "path": str(summary.path),
        "database": summary.has_database,
        "created_at": summary.created_at,
    }
