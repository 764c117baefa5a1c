"""Model fallback chains: an admin's ordered list of models the gateway tries when the asked
model is overloaded, rate limited (after failover across the pool) or the prompt is too long
for it. Per model, for the whole workspace or for one group (a group's chain replaces the
workspace's for its members).

One service function per admin action (`set_fallbacks`, `clear_fallbacks`), each writing its
audit event and a `pool_fallbacks.changed` change in the caller's transaction; `FallbackChains`
is the in-memory copy the gateway reads on the hot path, reloaded from the change feed.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db.changes import Change, record_change
from spectra.db.session import Database, ReadSession, Session, read_scope
from spectra.errors import InvalidError, NotFoundError
from spectra.users import service as users_service
from spectra.users.models import Group
from spectra.users.permissions import Permission, require

from .models import ModelFallback

CHANGE = "pool_fallbacks.changed"
MAX_CHAIN = 5


class FallbackInvalidError(InvalidError):
    code = "fallback_invalid"


class FallbackNotFoundError(NotFoundError):
    code = "fallback_not_found"


def _model_name(value: str) -> str:
    name = value.strip().lower()
    if not name or len(name) > 200 or any(c.isspace() for c in name) or set("*?[") & set(name):
        raise ValueError(f"'{value[:60]}' is not a model name (one word, no patterns).")
    return name


class FallbackSet(BaseModel):
    """An admin's chain for a model: the models to try, in order."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=200)
    chain: list[str] = Field(min_length=1, max_length=MAX_CHAIN)
    group: str | None = None
    """A group's name or id: the chain applies to its members only."""

    @field_validator("chain")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        names = [_model_name(v) for v in value]
        if len(set(names)) != len(names):
            raise ValueError("A fallback chain names each model once.")
        return names


class FallbackRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    model: str
    group_id: uuid.UUID | None
    group: str | None = None
    """The group's name; None for the workspace's chain."""
    chain: list[str]
    updated_at: datetime
    updated_by: str


class FallbackList(BaseModel):
    items: list[FallbackRead]
    next_cursor: str | None = None
    """Always None: one page."""


async def _group(session: Session | ReadSession, actor: Actor, ref: str | None) -> Group | None:
    if ref is None:
        return None
    return await users_service.get_group(session, actor, group=ref)


async def _find(
    session: Session | ReadSession, model: str, group_id: uuid.UUID | None
) -> ModelFallback | None:
    stmt = select(ModelFallback).where(ModelFallback.model == model)
    stmt = stmt.where(
        ModelFallback.group_id.is_(None) if group_id is None else ModelFallback.group_id == group_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


def _read(row: ModelFallback, group: Group | None) -> FallbackRead:
    read = FallbackRead.model_validate(row)
    read.group = group.name if group is not None else None
    return read


async def set_fallbacks(session: Session, actor: Actor, *, data: FallbackSet) -> FallbackRead:
    """Set (or replace) the fallback chain of `data.model`, for the workspace or `data.group`."""
    require(actor, Permission.POOL_WRITE)
    try:
        name = _model_name(data.model)
    except ValueError as exc:
        raise FallbackInvalidError(str(exc), model=data.model[:200]) from None
    if name in data.chain:
        raise FallbackInvalidError(
            f"{name} cannot fall back to itself; name other models.", model=name
        )
    group = await _group(session, actor, data.group)
    group_id = group.id if group is not None else None
    row = await _find(session, name, group_id)
    before = _read(row, group).model_dump(mode="json") if row is not None else None
    if row is None:
        row = ModelFallback(model=name, group_id=group_id, chain=list(data.chain))
        session.add(row)
    row.chain = list(data.chain)
    row.updated_by = actor.label
    await session.flush()
    result = _read(row, group)
    await _audited(session, actor, "set", name, group, before, result.model_dump(mode="json"))
    return result


async def clear_fallbacks(
    session: Session, actor: Actor, *, model: str, group: str | None = None
) -> FallbackRead:
    """Remove the fallback chain of `model` (the workspace's, or `group`'s); returns it."""
    require(actor, Permission.POOL_WRITE)
    name = model.strip().lower()
    found = await _group(session, actor, group)
    row = await _find(session, name, found.id if found is not None else None)
    if row is None:
        where = f" for group {found.name}" if found is not None else ""
        raise FallbackNotFoundError(
            f"{name} has no fallback chain{where}.", model=name[:200], group=group
        )
    result = _read(row, found)
    await session.delete(row)
    await session.flush()
    await _audited(session, actor, "clear", name, found, result.model_dump(mode="json"), None)
    return result


async def _audited(
    session: Session,
    actor: Actor,
    verb: str,
    model: str,
    group: Group | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """The audit event and the change-feed row of a chain's change (same transaction)."""
    await audit_service.record(
        session,
        actor,
        f"pool.fallbacks.{verb}",
        target_type="model",
        target_id=model,
        target_label=model if group is None else f"{model} (group {group.name})",
        before=before,
        after=after,
    )
    await record_change(session, CHANGE, model)


async def list_fallbacks(session: ReadSession, actor: Actor) -> list[FallbackRead]:
    """Every fallback chain, by model, the workspace's before the groups'."""
    require(actor, Permission.READ_ALL)
    rows = (
        await session.execute(
            select(ModelFallback, Group)
            .outerjoin(Group, Group.id == ModelFallback.group_id)
            .order_by(ModelFallback.model, Group.name.is_not(None), Group.name)
        )
    ).all()
    return [_read(row, group) for row, group in rows]


class FallbackChains:
    """The chains in memory for the gateway: `chain(model, group_id)` is a dict lookup.
    `load` reads them all (a small table); the change feed calls `on_changes`."""

    def __init__(self, db: Database | None = None) -> None:
        self.db = db
        self._chains: dict[tuple[str, uuid.UUID | None], tuple[str, ...]] = {}

    def chain(self, model: str, group_id: uuid.UUID | None) -> tuple[str, ...]:
        chains = self._chains
        if not chains:
            return ()
        found = chains.get((model, group_id)) if group_id is not None else None
        return found if found is not None else chains.get((model, None), ())

    def replace(self, rows: list[tuple[str, uuid.UUID | None, list[str]]]) -> None:
        self._chains = {(model, group_id): tuple(chain) for model, group_id, chain in rows}

    async def load(self) -> None:
        if self.db is None:
            return
        async with read_scope(self.db) as session:
            rows = await session.execute(
                select(ModelFallback.model, ModelFallback.group_id, ModelFallback.chain)
            )
            self.replace([(m, g, list(c)) for m, g, c in rows.all()])

    async def on_changes(self, changes: list[Change]) -> None:
        await self.load()
