"""Read and change workspace settings. Every change is audited and goes out on the change feed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db.changes import record_change
from spectra.db.serverkey import ServerKeys, get_server_keys
from spectra.db.session import AnySession, Session
from spectra.users.permissions import Permission, require
from spectra.workspace.models import WorkspaceSetting
from spectra.workspace.schemas import SettingRead, WorkspaceSettings
from spectra.workspace.specs import SPECS, spec_for

CHANGE_KIND = "workspace.settings"


def _field(name: str) -> str:
    return f"{name}_micros" if SPECS[name].kind == "amount" else name


async def _stored(session: AnySession) -> dict[str, Any]:
    rows = (await session.execute(select(WorkspaceSetting))).scalars().all()
    return {row.key: row.value for row in rows if row.key in SPECS}


async def get_settings(session: AnySession) -> WorkspaceSettings:
    """All settings with defaults filled in (no permission needed: every domain reads them)."""
    stored = await _stored(session)
    return WorkspaceSettings(**{_field(k): v for k, v in stored.items()})


async def list_settings(session: AnySession, actor: Actor) -> list[SettingRead]:
    require(actor, Permission.READ_ALL)
    stored = await _stored(session)
    return [
        SettingRead(
            name=spec.name,
            value=spec.show(stored.get(spec.name, spec.default)),
            is_default=spec.name not in stored,
            description=spec.description,
        )
        for spec in SPECS.values()
    ]


async def set_setting(session: Session, actor: Actor, *, name: str, value: str) -> SettingRead:
    """Change one setting from its text form. Owner only. Writes an audit event."""
    require(actor, Permission.SETTINGS_WRITE)
    spec = spec_for(name)
    parsed = spec.parse(value)
    if spec.kind == "secret" and parsed is not None:
        parsed = _seal(name, parsed)
    row = await session.get(WorkspaceSetting, name)
    before = spec.show(row.value if row else spec.default)
    if row is None:
        session.add(WorkspaceSetting(key=name, value=parsed, updated_by=actor.label))
    else:
        row.value = parsed
        row.updated_by = actor.label
    await session.flush()
    after = spec.show(parsed)
    await audit_service.record(
        session,
        actor,
        "settings.set",
        target_type="setting",
        target_id=name,
        target_label=name,
        before={"value": before},
        after={"value": after},
    )
    await record_change(session, CHANGE_KIND, name)
    return SettingRead(name=name, value=after, is_default=False, description=spec.description)


def _seal(name: str, secret: str, keys: ServerKeys | None = None) -> str:
    sealed, _ = (keys or get_server_keys()).seal(secret, associated=name.encode())
    return sealed


async def reseal_secrets(session: Session, keys: ServerKeys) -> tuple[str, int]:
    """Re-encrypt every stored `secret` setting (the SMTP password) under `keys`' credential
    subkey, in the caller's transaction (`spectra secret rotate-credentials`). Returns
    ("settings", how many)."""
    names = [name for name, spec in SPECS.items() if spec.kind == "secret"]
    rows = (
        (
            await session.execute(
                select(WorkspaceSetting).where(WorkspaceSetting.key.in_(names)).with_for_update()
            )
        )
        .scalars()
        .all()
    )
    count = 0
    for row in rows:
        plain = open_secret(row.key, row.value)
        if plain is None:
            continue
        row.value = _seal(row.key, plain, keys)
        count += 1
    await session.flush()
    for row in rows:
        await record_change(session, CHANGE_KIND, row.key)
    return "settings", count


def open_secret(name: str, sealed: str | None) -> str | None:
    """A `secret` setting's plain value (for the code that uses it; never shown or logged)."""
    if sealed is None:
        return None
    return get_server_keys().unseal(sealed, associated=name.encode())
