"""The settings as the hot path sees them: loaded at start, refreshed through the change feed."""

from __future__ import annotations

from spectra.db.changes import Change
from spectra.db.session import Database, read_scope
from spectra.workspace import service
from spectra.workspace.schemas import WorkspaceSettings


class SettingsCache:
    def __init__(self) -> None:
        self.current = WorkspaceSettings()

    async def load(self, db: Database) -> None:
        async with read_scope(db) as session:
            self.current = await service.get_settings(session)


settings_cache = SettingsCache()


def listener(db: Database):  # type: ignore[no-untyped-def]
    async def on_changes(_changes: list[Change]) -> None:
        await settings_cache.load(db)

    return on_changes
