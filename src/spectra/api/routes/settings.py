"""Workspace settings."""

from __future__ import annotations

from fastapi import APIRouter

from spectra.api.deps import ActorDep, ReadSessionDep, SessionDep
from spectra.workspace import service as workspace_service
from spectra.workspace.schemas import SettingRead, SettingsRead, SettingUpdate

router = APIRouter(prefix="/settings", tags=["settings"])


@router.get("")
async def list_settings(session: ReadSessionDep, actor: ActorDep) -> SettingsRead:
    return SettingsRead(items=await workspace_service.list_settings(session, actor))


@router.put("/{name}")
async def set_setting(
    name: str, body: SettingUpdate, session: SessionDep, actor: ActorDep
) -> SettingRead:
    return await workspace_service.set_setting(session, actor, name=name, value=body.value)
