"""`spectra secret rotate-credentials`: one transaction that moves the credential subkey to its
next version and reseals everything sealed under it: the pool's upstream credentials, the alert
channels' targets (and sealed bodies still to be sent) and the sealed settings (the SMTP
password). Here, in the top domain layer, because it spans pool, workspace and alerts."""

from __future__ import annotations

from spectra.alerts.outbox import reseal_targets
from spectra.audit.actor import Actor
from spectra.db.serverkey import ServerKeys
from spectra.db.session import Session
from spectra.pool import service as pool_service
from spectra.pool.service.rotation import Resealer
from spectra.workspace.service import reseal_secrets


def _counted(reseal: Resealer, counts: dict[str, int]) -> Resealer:
    async def run(session: Session, keys: ServerKeys) -> tuple[str, int]:
        what, n = await reseal(session, keys)
        counts[what] = n
        return what, n

    return run


async def rotate_secrets(session: Session, actor: Actor) -> dict[str, int]:
    """Rotate and reseal (see the module); returns how many of each were re-encrypted:
    `credentials`, `alert_channels`, `settings`. One audit event
    (`pool.credential_key_rotated`, with the counts)."""
    counts: dict[str, int] = {}
    also = (_counted(reseal_targets, counts), _counted(reseal_secrets, counts))
    counts["credentials"] = await pool_service.rotate_credential_key(session, actor, also=also)
    return counts
