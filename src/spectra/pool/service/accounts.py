"""Adding an account and changing its settings. Input rules live in `pool.schemas`; what
needs the database (unique names, group references) is checked here."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db.changes import record_change
from spectra.db.serverkey import get_server_keys
from spectra.db.session import AnySession, Session
from spectra.kit.clock import utc_now
from spectra.kit.ids import uuid7
from spectra.pool import kinds, repository
from spectra.pool.credentials import seal
from spectra.pool.errors import AccountInvalidError, AccountNameTakenError
from spectra.pool.models import PoolAccount
from spectra.pool.schemas import (
    AccountCreate,
    AccountUpdate,
    clean_aliases,
    clean_base_url,
    cost_basis_pair,
)
from spectra.pool.states import AccountState
from spectra.users.models import Group
from spectra.users.permissions import Permission, require

from ._common import get_for_update

_AUDITED = (
    "name",
    "provider",
    "base_url",
    "settings",
    "models",
    "aliases",
    "priority",
    "weight",
    "max_concurrency",
    "rpm_cap",
    "tpm_cap",
    "monthly_spend_cap_micros",
    "cost_basis",
    "fixed_monthly_cost_micros",
    "group_ids",
    "tags",
    "notes",
    "is_translation_allowed",
)


def _view(account: PoolAccount) -> dict[str, Any]:
    return {field: getattr(account, field) for field in _AUDITED}


def _name_taken(name: str) -> AccountNameTakenError:
    return AccountNameTakenError(
        f"An account named '{name}' already exists; choose another name.", name=name
    )


async def add_account(session: Session, actor: Actor, *, data: AccountCreate) -> PoolAccount:
    """Add an upstream account; its credential (checked by its kind's rule, with the kind's
    settings and, when no base URL is given, the kind's own endpoint) is sealed with AES-GCM and
    never shown again.

    Writes an audit event (without the credential) and a change-feed row.
    """
    require(actor, Permission.POOL_WRITE)
    credential = kinds.clean_credential(data.provider, data.api_key.get_secret_value())
    settings = kinds.clean_settings(
        data.provider,
        region=data.region,
        project=data.project,
        api_version=data.api_version,
        credential=credential.stored,
    )
    base_url = clean_base_url(
        data.base_url or kinds.default_base_url(data.provider, settings) or ""
    )
    if await repository.find_by_name(session, data.name) is not None:
        raise _name_taken(data.name)
    keys = get_server_keys()
    account_id = uuid7()
    account = PoolAccount(
        id=account_id,
        name=data.name,
        name_key=data.name.lower(),
        provider=data.provider,
        base_url=base_url,
        settings=settings,
        credential_ciphertext=seal(
            keys.credentials_key(), keys.credentials_version, account_id, credential.stored
        ),
        credential_key_version=keys.credentials_version,
        credential_last4=credential.last4,
        models=list(data.models),
        aliases=dict(data.aliases),
        priority=data.priority,
        weight=data.weight,
        max_concurrency=data.max_concurrency,
        rpm_cap=data.rpm_cap,
        tpm_cap=data.tpm_cap,
        monthly_spend_cap_micros=data.monthly_spend_cap,
        cost_basis=data.cost_basis,
        fixed_monthly_cost_micros=data.fixed_monthly_cost,
        tags=list(data.tags),
        notes=data.notes,
        is_translation_allowed=data.translate,
        state=str(AccountState.ACTIVE),
        state_reason="added",
        state_changed_at=utc_now(),
        cool_streak=0,
        failure_times=[],
    )
    account.group_ids = await _resolve_groups(session, data.groups)
    session.add(account)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise _name_taken(data.name) from exc
    await audit_service.record_on(
        session, actor, "pool.account_added", "pool_account", account, after=_view(account)
    )
    await record_change(session, "pool.account", account.id)
    return account


async def update_account(
    session: Session, actor: Actor, *, account_id: uuid.UUID, data: AccountUpdate
) -> PoolAccount:
    """Change an account's settings (only the fields given), among them whether it takes
    translated traffic. Writes an audit event with before/after of what changed."""
    require(actor, Permission.POOL_WRITE)
    account = await get_for_update(session, account_id)
    before = _view(account)
    given = data.model_fields_set
    if "name" in given and data.name is not None:
        other = await repository.find_by_name(session, data.name)
        if other is not None and other.id != account.id:
            raise _name_taken(data.name)
        account.name, account.name_key = data.name, data.name.lower()
    if "base_url" in given and data.base_url is not None:
        account.base_url = data.base_url
    if {"models", "aliases"} & given:
        models = data.models if data.models is not None else list(account.models)
        aliases = data.aliases if data.aliases is not None else dict(account.aliases)
        account.models, account.aliases = models, clean_aliases(models, aliases)
    for field in ("priority", "weight"):
        if field in given and getattr(data, field) is not None:
            setattr(account, field, getattr(data, field))
    for field in ("max_concurrency", "rpm_cap", "tpm_cap"):
        if field in given:
            setattr(account, field, getattr(data, field))
    if "monthly_spend_cap" in given:
        account.monthly_spend_cap_micros = data.monthly_spend_cap
    if {"cost_basis", "fixed_monthly_cost"} & given:
        basis = data.cost_basis if "cost_basis" in given and data.cost_basis else account.cost_basis
        fixed = (
            data.fixed_monthly_cost
            if "fixed_monthly_cost" in given
            else account.fixed_monthly_cost_micros
        )
        if basis == "list_price" and "fixed_monthly_cost" not in given:
            fixed = None
        account.cost_basis, account.fixed_monthly_cost_micros = cost_basis_pair(basis, fixed)
    if "groups" in given:
        account.group_ids = await _resolve_groups(session, data.groups or [])
    if "tags" in given:
        account.tags = data.tags or []
    if "notes" in given:
        account.notes = data.notes or ""
    if "translate" in given and data.translate is not None:
        account.is_translation_allowed = data.translate
    changes: dict[str, str | None] = {
        k: getattr(data, k) for k in ("region", "project", "api_version") if k in given
    }
    if changes:
        # An endpoint that was the kind's own for the old region follows the new one.
        old_default = kinds.default_base_url(account.provider, dict(account.settings))
        account.settings = kinds.changed_settings(account.provider, dict(account.settings), changes)
        if old_default is not None and account.base_url == old_default:
            account.base_url = kinds.default_base_url(account.provider, account.settings) or ""
    after = _view(account)
    changed = {k for k in after if after[k] != before[k]}
    await session.flush()
    await audit_service.record_on(
        session,
        actor,
        "pool.account_updated",
        "pool_account",
        account,
        before={k: before[k] for k in changed},
        after={k: after[k] for k in changed},
    )
    await record_change(session, "pool.account", account.id)
    return account


async def _resolve_groups(session: AnySession, refs: list[str]) -> list[str]:
    """Group names or ids -> group ids (strings); an unknown group is a clear error."""
    ids: list[str] = []
    for ref in refs:
        text = ref.strip()
        if not text:
            continue
        try:
            as_id = uuid.UUID(text)
        except ValueError:
            as_id = None
        stmt = (
            select(Group.id).where(Group.id == as_id)
            if as_id
            else select(Group.id).where(Group.name_key == text.lower())
        )
        found = (await session.execute(stmt)).scalar_one_or_none()
        if found is None:
            raise AccountInvalidError(f"There is no group '{text}'.", field="groups")
        if str(found) not in ids:
            ids.append(str(found))
    return ids
