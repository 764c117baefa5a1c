"""Admin actions on the account pool. Every write checks permission, writes its audit event
(never the credential) and a change-feed row (`pool.account`) in the caller's transaction."""

from __future__ import annotations

import fnmatch
import re
import uuid
from collections import defaultdict
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db import serverkey
from spectra.db.changes import record_change
from spectra.db.serverkey import get_server_keys
from spectra.db.session import ReadSession, Session
from spectra.kit.clock import utc_now
from spectra.kit.ids import uuid7
from spectra.kit.pagination import Page
from spectra.providers.client import UpstreamClient
from spectra.users.models import Group
from spectra.users.permissions import Permission, require

from . import kinds, repository
from .credentials import Credential, last4, seal, unseal
from .errors import (
    AccountDisabledError,
    AccountInvalidError,
    AccountNameTakenError,
    AccountNotFoundError,
    CredentialMissingError,
)
from .models import PoolAccount, PoolAccountTransition, PoolAlert
from .probes import ProbeOutcome, probe
from .schemas import AccountCreate, AccountUpdate
from .state import snapshot_of
from .states import AccountState, AdminDisable, AdminEnable, AdminReset, Event, ProbeResult, apply
from .urls import normalise_base_url

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")
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
)


def _view(account: PoolAccount) -> dict[str, Any]:
    return {field: getattr(account, field) for field in _AUDITED}


async def add_account(session: Session, actor: Actor, *, data: AccountCreate) -> PoolAccount:
    """Add an upstream account; its credential is sealed with AES-GCM and never shown again.

    Writes an audit event (without the credential) and a change-feed row.
    """
    require(actor, Permission.POOL_WRITE)
    raw = data.api_key.get_secret_value()
    clean = kinds.clean_credential(data.provider, raw)
    api_key = clean.stored if clean else _clean_key(raw)
    settings = kinds.clean_settings(
        data.provider,
        region=data.region,
        project=data.project,
        api_version=data.api_version,
        credential=api_key,
    )
    name = _clean_name(data.name)
    if await repository.find_by_name(session, name) is not None:
        raise AccountNameTakenError(
            f"An account named '{name}' already exists; choose another name.", name=name
        )
    keys = get_server_keys()
    account_id = uuid7()
    account = PoolAccount(
        id=account_id,
        name=name,
        name_key=name.lower(),
        provider=data.provider,
        base_url=_clean_url(data.base_url or kinds.default_base_url(data.provider, settings) or ""),
        settings=settings,
        credential_ciphertext=seal(
            keys.credentials_key(), keys.credentials_version, account_id, api_key
        ),
        credential_key_version=keys.credentials_version,
        credential_last4=clean.last4 if clean else last4(api_key),
        priority=data.priority,
        weight=data.weight,
        max_concurrency=data.max_concurrency,
        rpm_cap=data.rpm_cap,
        tpm_cap=data.tpm_cap,
        monthly_spend_cap_micros=data.monthly_spend_cap,
        tags=_clean_list(data.tags, "tag"),
        notes=data.notes,
        state=str(AccountState.ACTIVE),
        state_reason="added",
        state_changed_at=utc_now(),
        cool_streak=0,
        failure_times=[],
    )
    account.models, account.aliases = _clean_models(data.models, data.aliases)
    account.cost_basis, account.fixed_monthly_cost_micros = _cost_basis(
        data.cost_basis, data.fixed_monthly_cost
    )
    account.group_ids = await _resolve_groups(session, data.groups)
    session.add(account)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise AccountNameTakenError(
            f"An account named '{name}' already exists; choose another name.", name=name
        ) from exc
    await audit_service.record(
        session,
        actor,
        "pool.account_added",
        target_type="pool_account",
        target_id=account.id,
        target_label=account.name,
        after=_view(account),
    )
    await record_change(session, "pool.account", account.id)
    return account


async def update_account(
    session: Session, actor: Actor, *, account_id: uuid.UUID, data: AccountUpdate
) -> PoolAccount:
    """Change an account's settings (only the fields given). Writes an audit event with before/after."""
    require(actor, Permission.POOL_WRITE)
    account = await _get_for_update(session, account_id)
    before = _view(account)
    given = data.model_fields_set
    if "name" in given and data.name is not None:
        name = _clean_name(data.name)
        other = await repository.find_by_name(session, name)
        if other is not None and other.id != account.id:
            raise AccountNameTakenError(
                f"An account named '{name}' already exists; choose another name.", name=name
            )
        account.name, account.name_key = name, name.lower()
    if "base_url" in given and data.base_url is not None:
        account.base_url = _clean_url(data.base_url)
    if {"models", "aliases"} & given:
        models = (
            data.models if "models" in given and data.models is not None else list(account.models)
        )
        aliases = (
            data.aliases
            if "aliases" in given and data.aliases is not None
            else dict(account.aliases)
        )
        account.models, account.aliases = _clean_models(models, aliases)
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
        account.cost_basis, account.fixed_monthly_cost_micros = _cost_basis(basis, fixed)
    if "groups" in given:
        account.group_ids = await _resolve_groups(session, data.groups or [])
    if "tags" in given:
        account.tags = _clean_list(data.tags or [], "tag")
    if "notes" in given:
        account.notes = data.notes or ""
    after = _view(account)
    changed = {k for k in after if after[k] != before[k]}
    await session.flush()
    await audit_service.record(
        session,
        actor,
        "pool.account_updated",
        target_type="pool_account",
        target_id=account.id,
        target_label=account.name,
        before={k: before[k] for k in changed},
        after={k: after[k] for k in changed},
    )
    await record_change(session, "pool.account", account.id)
    return account


async def rotate_credential(
    session: Session,
    actor: Actor,
    *,
    account_id: uuid.UUID,
    api_key: str,
    run_probe: bool = True,
    client: UpstreamClient | None = None,
) -> tuple[PoolAccount, ProbeOutcome | None]:
    """Replace an account's credential (sealed under the current key version) and, by default,
    test it at once: a successful test returns a `needs_attention` account to `active`.

    Writes an audit event naming only the old and new last four characters.
    """
    require(actor, Permission.POOL_WRITE)
    account = await _get_for_update(session, account_id)
    clean = kinds.clean_credential(account.provider, api_key)
    key = clean.stored if clean else _clean_key(api_key)
    keys = get_server_keys()
    old_last4 = account.credential_last4
    account.credential_ciphertext = seal(
        keys.credentials_key(), keys.credentials_version, account.id, key
    )
    account.credential_key_version = keys.credentials_version
    account.credential_last4 = clean.last4 if clean else last4(key)
    await session.flush()
    await audit_service.record(
        session,
        actor,
        "pool.credential_rotated",
        target_type="pool_account",
        target_id=account.id,
        target_label=account.name,
        previous_last4=old_last4,
        new_last4=account.credential_last4,
    )
    outcome = None
    if run_probe and account.state != AccountState.DISABLED:
        outcome = await _probe_and_record(
            session, account, Credential(key), by_admin=True, actor=actor, client=client
        )
    await record_change(session, "pool.account", account.id)
    return account, outcome


async def rotate_credential_key(session: Session, actor: Actor) -> int:
    """Move the credential-encryption subkey to its next version and re-encrypt every pool
    account's credential under it (one transaction). Member-key and token hashes use another
    subkey and are not touched. Returns how many credentials were re-encrypted. Audited."""
    require(actor, Permission.SETTINGS_WRITE)
    old = get_server_keys()
    accounts = await repository.all_accounts_for_update(session)
    keys = await serverkey.raise_credentials_version(session)
    for account in accounts:
        credential = unseal(
            old.credentials_key(account.credential_key_version),
            account.id,
            account.credential_ciphertext,
        )
        account.credential_ciphertext = seal(
            keys.credentials_key(), keys.credentials_version, account.id, credential.reveal()
        )
        account.credential_key_version = keys.credentials_version
    await session.flush()
    await audit_service.record(
        session,
        actor,
        "pool.credential_key_rotated",
        target_type="server_identity",
        target_id=None,
        target_label="credential-encryption subkey",
        before={"version": old.credentials_version},
        after={"version": keys.credentials_version},
        accounts=len(accounts),
    )
    for account in accounts:
        await record_change(session, "pool.account", account.id)
    return len(accounts)


async def disable_account(
    session: Session, actor: Actor, *, account_id: uuid.UUID, reason: str = ""
) -> PoolAccount:
    """Stop sending traffic to an account until an admin enables it. Audited."""
    require(actor, Permission.POOL_WRITE)
    account = await _get_for_update(session, account_id)
    return await _admin_event(
        session, actor, account, AdminDisable(utc_now(), reason.strip()), "pool.account_disabled"
    )


async def enable_account(session: Session, actor: Actor, *, account_id: uuid.UUID) -> PoolAccount:
    """Return a disabled account to `active`. Audited."""
    require(actor, Permission.POOL_WRITE)
    account = await _get_for_update(session, account_id)
    return await _admin_event(
        session, actor, account, AdminEnable(utc_now()), "pool.account_enabled"
    )


async def reset_account_state(
    session: Session, actor: Actor, *, account_id: uuid.UUID
) -> PoolAccount:
    """Clear cooling, failures and needs_attention: the account is `active` again. Audited.

    A disabled account stays disabled: enable it instead.
    """
    require(actor, Permission.POOL_WRITE)
    account = await _get_for_update(session, account_id)
    if account.state == AccountState.DISABLED:
        raise AccountDisabledError(
            f"Account {account.name} is disabled; enable it instead of resetting it.",
            account=account.name,
        )
    return await _admin_event(
        session, actor, account, AdminReset(utc_now()), "pool.account_state_reset"
    )


async def test_account(
    session: Session,
    actor: Actor,
    *,
    account_id: uuid.UUID,
    client: UpstreamClient | None = None,  # noqa: PT028
) -> tuple[PoolAccount, ProbeOutcome]:
    """Send one cheap real request through the account and record its latency and outcome.

    A success returns a cooling, failing or needs_attention account to `active`; an auth or
    quota failure moves it to needs_attention. Audited. (On SQLite the write lock is held for
    the probe, at most about 15 seconds.)
    """
    require(actor, Permission.POOL_WRITE)
    account = await _get_for_update(session, account_id)
    credential = unseal(
        get_server_keys().credentials_key(account.credential_key_version),
        account.id,
        account.credential_ciphertext,
    )
    outcome = await _probe_and_record(
        session, account, credential, by_admin=True, actor=actor, client=client
    )
    await audit_service.record(
        session,
        actor,
        "pool.account_tested",
        target_type="pool_account",
        target_id=account.id,
        target_label=account.name,
        outcome=outcome.label,
        latency_ms=outcome.latency_ms,
    )
    await record_change(session, "pool.account", account.id)
    return account, outcome


async def record_probe(
    session: Session, *, account_id: uuid.UUID, outcome: ProbeOutcome
) -> PoolAccount | None:
    """Record a scheduled probe's outcome (system job; not an admin action, so not audited)."""
    account = await repository.get_account(session, account_id, for_update=True)
    if account is None:
        return None
    await _record_outcome(session, account, outcome, by_admin=False, actor_label="system")
    await record_change(session, "pool.account", account.id)
    return account


async def get_account(
    session: ReadSession | Session, actor: Actor, *, account_id: uuid.UUID
) -> PoolAccount:
    require(actor, Permission.READ_ALL)
    account = await repository.get_account(session, account_id)
    if account is None:
        raise AccountNotFoundError("No pool account has that id.", account_id=str(account_id))
    return account


async def get_account_by_name(
    session: ReadSession | Session, actor: Actor, *, name: str
) -> PoolAccount:
    require(actor, Permission.READ_ALL)
    account = await repository.find_by_name(session, name)
    if account is None:
        raise AccountNotFoundError(
            f"No pool account is named '{name}'; `spectra pool list` shows them.", name=name
        )
    return account


async def list_accounts(
    session: ReadSession | Session,
    actor: Actor,
    *,
    limit: int | None = None,
    cursor: str | None = None,
    state: str | None = None,
) -> Page[PoolAccount]:
    require(actor, Permission.READ_ALL)
    return await repository.page_accounts(session, limit=limit, cursor=cursor, state=state)


async def list_history(
    session: ReadSession | Session,
    actor: Actor,
    *,
    account_id: uuid.UUID,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[PoolAccountTransition]:
    """The account's state transitions, newest first, each with its reason and time."""
    await get_account(session, actor, account_id=account_id)
    return await repository.page_transitions(session, account_id, limit=limit, cursor=cursor)


async def list_alerts(
    session: ReadSession | Session,
    actor: Actor,
    *,
    limit: int | None = None,
    cursor: str | None = None,
    open_only: bool = True,
) -> Page[PoolAlert]:
    require(actor, Permission.READ_ALL)
    return await repository.page_alerts(session, limit=limit, cursor=cursor, open_only=open_only)


async def persisted_figures(
    session: ReadSession | Session, actor: Actor, *, account_id: uuid.UUID
) -> dict[str, Any]:
    """Today's and this month's figures as last persisted by the figures job."""
    require(actor, Permission.READ_ALL)
    today = utc_now().date()
    rows = await repository.daily_figures(session, account_id, since=today.replace(day=1))
    month_cost = sum(r.cost_micros for r in rows)
    month_tokens = sum(r.input_tokens + r.output_tokens for r in rows)
    current = next((r for r in rows if r.day == today), None)
    return {
        "requests_today": current.requests if current else 0,
        "successes_today": current.successes if current else 0,
        "failures_today": current.failures if current else 0,
        "latency_p50_ms": current.latency_p50_ms if current else None,
        "latency_p95_ms": current.latency_p95_ms if current else None,
        "cost_today_micros": current.cost_micros if current else 0,
        "cost_month_micros": month_cost,
        "tokens_month": month_tokens,
    }


async def pool_status(session: ReadSession | Session, actor: Actor) -> dict[str, Any]:
    """For members: per served model, how many accounts serve it and how many are usable now.

    No account names, URLs or credentials. `degraded` when some model has fewer usable accounts
    than configured ones.
    """
    require(actor, Permission.SELF)
    now = utc_now()
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for account in await repository.list_all_accounts(session):
        if account.state == AccountState.DISABLED:
            continue
        usable = snapshot_of(account).usable_at(now)
        for model in {*account.models, *account.aliases}:
            counts[model][0] += 1
            counts[model][1] += int(usable)
    models = [
        {"model": model, "accounts": total, "available": available, "degraded": available < total}
        for model, (total, available) in sorted(counts.items())
    ]
    return {"degraded": any(m["degraded"] for m in models), "models": models}


async def _admin_event(
    session: Session, actor: Actor, account: PoolAccount, event: Event, action: str
) -> PoolAccount:
    before = {"state": account.state, "state_reason": account.state_reason}
    outcome = apply(snapshot_of(account), event)
    if outcome.transition is not None:
        repository.write_snapshot(account, outcome.snapshot)
        await session.flush()
        await repository.add_transition(
            session, account_id=account.id, transition=outcome.transition, actor_label=actor.label
        )
        if outcome.snapshot.state is AccountState.ACTIVE:
            await repository.resolve_alerts(
                session, kind="account_needs_attention", subject=account.name
            )
    await audit_service.record(
        session,
        actor,
        action,
        target_type="pool_account",
        target_id=account.id,
        target_label=account.name,
        before=before,
        after={"state": account.state, "state_reason": account.state_reason},
    )
    await record_change(session, "pool.account", account.id)
    return account


async def _probe_and_record(
    session: Session,
    account: PoolAccount,
    credential: Credential,
    *,
    by_admin: bool,
    actor: Actor,
    client: UpstreamClient | None,
) -> ProbeOutcome:
    if client is None:
        async with UpstreamClient() as own:
            outcome = await probe(
                own,
                provider=account.provider,
                base_url=account.base_url,
                credential=credential,
                models=account.models,
                settings=account.settings,
            )
    else:
        outcome = await probe(
            client,
            provider=account.provider,
            base_url=account.base_url,
            credential=credential,
            models=account.models,
            settings=account.settings,
        )
    await _record_outcome(session, account, outcome, by_admin=by_admin, actor_label=actor.label)
    return outcome


async def _record_outcome(
    session: AsyncSession,
    account: PoolAccount,
    outcome: ProbeOutcome,
    *,
    by_admin: bool,
    actor_label: str,
) -> None:
    now = utc_now()
    account.last_probe_at = now
    account.last_probe_ok = outcome.ok
    account.last_probe_outcome = outcome.label
    account.last_probe_latency_ms = outcome.latency_ms
    account.last_probe_message = outcome.message[:500] or None
    result = apply(
        snapshot_of(account),
        ProbeResult(
            at=now,
            ok=outcome.ok,
            failure_type=outcome.failure_type,
            retry_after=outcome.retry_after,
            status=outcome.status,
            by_admin=by_admin,
        ),
    )
    if result.snapshot != snapshot_of(account):
        repository.write_snapshot(account, result.snapshot)
    await session.flush()
    if result.transition is not None:
        await repository.add_transition(
            session, account_id=account.id, transition=result.transition, actor_label=actor_label
        )
        if result.snapshot.state is AccountState.ACTIVE:
            await repository.resolve_alerts(
                session, kind="account_needs_attention", subject=account.name
            )


async def _get_for_update(session: AsyncSession, account_id: uuid.UUID) -> PoolAccount:
    account = await repository.get_account(session, account_id, for_update=True)
    if account is None:
        raise AccountNotFoundError("No pool account has that id.", account_id=str(account_id))
    return account


def _clean_name(raw: str) -> str:
    name = raw.strip()
    if not _NAME_RE.match(name):
        raise AccountInvalidError(
            "An account name is 1-100 letters, digits, spaces, dots, dashes or underscores, starting with a letter "
            "or digit.",
            field="name",
        )
    return name


def _clean_key(raw: str) -> str:
    key = raw.strip()
    if not key:
        raise CredentialMissingError(
            "The API key is empty; pass the account's upstream API key.", field="api_key"
        )
    if len(key) < 8 or any(c.isspace() for c in key):
        raise CredentialMissingError(
            "That does not look like an API key (too short, or it contains spaces).",
            field="api_key",
        )
    return key


def _clean_url(raw: str) -> str:
    url = normalise_base_url(raw)
    if url is None:
        raise AccountInvalidError(
            "The base URL must be an absolute http(s) URL without credentials, query or fragment, "
            "e.g. https://api.anthropic.com.",
            field="base_url",
        )
    return url


def _clean_list(values: list[str], what: str) -> list[str]:
    out: list[str] = []
    for value in values:
        item = value.strip()
        if not item or len(item) > 100:
            raise AccountInvalidError(f"Each {what} must be 1-100 characters.", field=f"{what}s")
        if item not in out:
            out.append(item)
    return out


def _clean_models(models: list[str], aliases: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    patterns = _clean_list(models, "model")
    if not patterns:
        raise AccountInvalidError(
            "Name at least one model or pattern the account serves, e.g. claude-*.", field="models"
        )
    if any(c.isspace() for p in patterns for c in p):
        raise AccountInvalidError("Model names and patterns cannot contain spaces.", field="models")
    clean: dict[str, str] = {}
    for public, upstream in aliases.items():
        public, upstream = public.strip(), upstream.strip()
        if not public or not upstream:
            raise AccountInvalidError(
                "An alias maps a public model name to an upstream name; neither may be empty.",
                field="aliases",
            )
        if not any(upstream == p or fnmatch.fnmatchcase(upstream, p) for p in patterns):
            raise AccountInvalidError(
                f"The alias {public} -> {upstream} points at a model this account does not serve; "
                "add it to the models.",
                field="aliases",
            )
        clean[public] = upstream
    return patterns, clean


def _cost_basis(basis: str, fixed: int | None) -> tuple[str, int | None]:
    if basis == "fixed_monthly":
        if fixed is None:
            raise AccountInvalidError(
                "A fixed monthly cost basis needs the monthly cost (fixed_monthly_cost).",
                field="fixed_monthly_cost",
            )
        return basis, fixed
    if fixed is not None:
        raise AccountInvalidError(
            "A fixed monthly cost only applies with cost basis fixed_monthly.",
            field="fixed_monthly_cost",
        )
    return "list_price", None


async def _resolve_groups(session: AsyncSession, refs: list[str]) -> list[str]:
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


async def due_for_probe(
    session: AsyncSession,
    *,
    idle_after: timedelta,
    retry_every: timedelta,
    live: dict[uuid.UUID, Any] | None = None,
) -> list[PoolAccount]:
    """Accounts a scheduled probe should test now: failing or cooling-over accounts not probed
    within `retry_every`, and active accounts with no traffic or probe within `idle_after`.
    `needs_attention` and `disabled` accounts wait for an admin."""
    now = utc_now()
    due: list[PoolAccount] = []
    for account in await repository.list_all_accounts(session):
        last = account.last_probe_at
        if account.state in (AccountState.FAILING, AccountState.COOLING):
            if (
                account.state == AccountState.COOLING
                and account.cooling_until
                and account.cooling_until > now
            ):
                continue
            if last is None or now - last >= retry_every:
                due.append(account)
        elif account.state == AccountState.ACTIVE:
            last_used = live.get(account.id) if live else None
            recent = max((t for t in (last, last_used) if t is not None), default=None)
            if recent is None or now - recent >= idle_after:
                due.append(account)
    return due
