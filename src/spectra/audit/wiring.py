"""Start-up wiring: the anchor log (a file in the data directory), the anchoring job, and an
anchor when a serving process stops."""

from __future__ import annotations

from spectra.audit import anchors, jobs
from spectra.db.hub import Hub


def install(hub: Hub) -> None:
    anchor_log = anchors.AnchorLog(
        path=hub.settings.resolved_audit_anchor_file, key=hub.keys.audit_anchor_key
    )
    anchors.use(anchor_log)

    async def run() -> None:
        await jobs.anchor(hub.db, anchor_log)

    async def on_stop() -> None:
        if hub.serving:
            await run()

    hub.jobs.register(jobs.ANCHOR_JOB, hub.settings.audit_anchor_interval, run)
    hub.on_stop.append(on_stop)
