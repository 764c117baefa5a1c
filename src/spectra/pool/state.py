"""The in-memory pool: each account's configuration, state and figures, for the hot path.

Loaded at start (`PoolState.load`) and refreshed through the change feed (prefix `pool.`):
an admin's change reaches the scheduler within one poll (≤ 500 ms). State transitions decided
on the hot path (a 429, a run of 500s) are applied here at once and persisted asynchronously
through the `persist` hook (the group committer, installed by `wiring.install`): the database
row is updated only when the memory's transition is newer than the row's, so a late write
never undoes an admin's later change. When reloading a row, the newer of the two states wins.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from spectra.db.serverkey import ServerKeys
from spectra.db.session import Database, read_scope
from spectra.kit.clock import utc_now
from spectra.providers import vertex

from . import repository
from .credentials import Credential, unseal
from .health import AccountFigures
from .models import PoolAccount
from .states import AccountState, Event, StatePolicy, StateSnapshot, Transition, apply

log = logging.getLogger(__name__)

PersistWork = Callable[[AsyncSession], Awaitable[Any]]
PersistHook = Callable[[PersistWork], None]

PROTOCOL_PROVIDERS: dict[str, frozenset[str]] = {
    "anthropic_messages": frozenset({"anthropic", "bedrock", "vertex"}),
    "openai_chat": frozenset({"openai", "openai_compatible", "azure_openai"}),
    "openai_responses": frozenset({"openai", "openai_compatible", "azure_openai"}),
    "gemini_generate_content": frozenset({"gemini", "vertex"}),
}
MODEL_PROTOCOL_KINDS = frozenset({"vertex"})
"""Kinds listed under several protocols whose protocol follows the model: a Vertex account
speaks Gemini's for Gemini models, Anthropic's for Claude (`vertex.protocol_of`)."""

TRANSLATION_TARGETS: dict[str, str] = {
    "anthropic": "anthropic_messages",
    "openai": "openai_responses",
    "openai_compatible": "openai_chat",
    "gemini": "gemini_generate_content",
    "azure_openai": "openai_chat",
    "bedrock": "anthropic_messages",
    "vertex": "anthropic_messages",
}
"""The protocol translated traffic speaks to an account of each kind (one per kind in
`PROTOCOL_PROVIDERS`), chosen when the kind speaks more than one: OpenAI's own API takes
Responses (reasoning items and encrypted reasoning survive there, not in Chat);
OpenAI-compatible servers commonly implement only Chat Completions, and Azure OpenAI serves
Chat on every deployment and api-version (Responses only on recent ones)."""

_ALERT_EVERY = timedelta(minutes=5)


def serves_in(provider: str, protocol: str, upstream: str) -> bool:
    """Whether an account of `provider` takes the upstream model `upstream` in `protocol`."""
    if provider in MODEL_PROTOCOL_KINDS:
        return vertex.protocol_of(upstream) == protocol
    return provider in PROTOCOL_PROVIDERS.get(protocol, frozenset())


def protocols_for(provider: str, upstream: str | None) -> tuple[str, ...]:
    """The protocols an account of `provider` speaks (for `upstream`, when it is known)."""
    return tuple(
        p
        for p, kinds in PROTOCOL_PROVIDERS.items()
        if provider in kinds and (upstream is None or serves_in(provider, p, upstream))
    )


def upstream_model(models: Iterable[str], aliases: dict[str, str], model: str) -> str | None:
    """The upstream name an account with these models and aliases uses for `model` (its alias
    first), or None when it does not serve it."""
    target = aliases.get(model, model)
    for pattern in models:
        if target == pattern or fnmatch.fnmatchcase(target, pattern):
            return target
    return None


@dataclass(frozen=True, slots=True)
class AccountConfig:
    """An account's configuration as the scheduler sees it (immutable; replaced on refresh)."""

    id: uuid.UUID
    name: str
    provider: str
    base_url: str
    credential: Credential
    models: tuple[str, ...]
    aliases: dict[str, str]
    priority: int
    weight: int
    max_concurrency: int | None
    rpm_cap: int | None
    tpm_cap: int | None
    monthly_spend_cap_micros: int | None
    group_ids: frozenset[str]
    tags: tuple[str, ...]
    translate: bool = True
    """May serve callers of another protocol (translated); see `PoolAccount.is_translation_allowed`."""
    settings: dict[str, str] = field(default_factory=dict)
    """The kind's settings (`kinds.py`): region, project, api_version."""

    def upstream_model(self, model: str) -> str | None:
        """The upstream name this account uses for `model`, or None when it does not serve it."""
        return upstream_model(self.models, self.aliases, model)

    def open_to(self, group_id: str | None) -> bool:
        return not self.group_ids or (group_id is not None and group_id in self.group_ids)


@dataclass(slots=True)
class AccountRuntime:
    config: AccountConfig
    snapshot: StateSnapshot
    figures: AccountFigures = field(default_factory=AccountFigures)
    last_probe_at: datetime | None = None


def snapshot_of(row: PoolAccount) -> StateSnapshot:
    times = tuple(datetime.fromisoformat(t) for t in row.failure_times or [])
    return StateSnapshot(
        state=AccountState(row.state),
        reason=row.state_reason,
        changed_at=row.state_changed_at,
        cooling_until=row.cooling_until,
        cool_streak=row.cool_streak,
        failure_times=times,
    )


def config_of(row: PoolAccount, keys: ServerKeys) -> AccountConfig:
    credential = unseal(
        keys.credentials_key(row.credential_key_version), row.id, row.credential_ciphertext
    )
    return AccountConfig(
        id=row.id,
        name=row.name,
        provider=row.provider,
        base_url=row.base_url,
        credential=credential,
        models=tuple(row.models or ()),
        aliases=dict(row.aliases or {}),
        priority=row.priority,
        weight=row.weight,
        max_concurrency=row.max_concurrency,
        rpm_cap=row.rpm_cap,
        tpm_cap=row.tpm_cap,
        monthly_spend_cap_micros=row.monthly_spend_cap_micros,
        group_ids=frozenset(row.group_ids or ()),
        tags=tuple(row.tags or ()),
        translate=row.is_translation_allowed,
        settings=dict(row.settings or {}),
    )


class PoolState:
    """All accounts of the pool in memory. One instance per process (see `wiring`)."""

    def __init__(self, keys: ServerKeys, *, policy: StatePolicy | None = None) -> None:
        self.keys = keys
        self.policy = policy or StatePolicy()
        self.accounts: dict[uuid.UUID, AccountRuntime] = {}
        self.persist: PersistHook | None = None
        self.pending: list[PersistWork] = []
        """Persistence work queued while no hook is installed (tests, or before start)."""
        self._alerted: dict[str, datetime] = {}
        self._lock = asyncio.Lock()

    async def load(self, db: Database) -> None:
        """Read every account (and this month's persisted figures) from the database."""
        async with self._lock, read_scope(db) as session:
            rows = await repository.list_all_accounts(session)
            seen = set()
            for row in rows:
                seen.add(row.id)
                self.merge_row(row)
            for gone in set(self.accounts) - seen:
                del self.accounts[gone]
            now = utc_now()
            figures = await repository.month_figures(session, now.date())
            for account_id, (today, month_cost, month_tokens) in figures.items():
                runtime = self.accounts.get(account_id)
                if runtime is not None:
                    runtime.figures.load(
                        now,
                        today=today,
                        month_before_today_micros=month_cost,
                        month_tokens_before_today=month_tokens,
                    )

    async def refresh(self, db: Database, account_ids: Iterable[uuid.UUID]) -> None:
        """Re-read the named accounts (a change feed batch); deleted ones leave memory."""
        ids = list(dict.fromkeys(account_ids))
        if not ids:
            return
        async with self._lock, read_scope(db) as session:
            rows = {row.id: row for row in await repository.get_accounts(session, ids)}
            for account_id in ids:
                row = rows.get(account_id)
                if row is None:
                    self.accounts.pop(account_id, None)
                else:
                    self.merge_row(row)

    def merge_row(self, row: PoolAccount) -> None:
        """Take an account row into memory (the newer of the stored and the live state wins)."""
        try:
            config = config_of(row, self.keys)
        except Exception:
            log.error(
                "pool account %s: its credential cannot be decrypted; it serves no traffic",
                row.name,
            )
            self.accounts.pop(row.id, None)
            return
        stored = snapshot_of(row)
        current = self.accounts.get(row.id)
        if current is None:
            self.accounts[row.id] = AccountRuntime(
                config=config, snapshot=stored, last_probe_at=row.last_probe_at
            )
            return
        current.config = config
        mine = current.snapshot.changed_at
        if mine is None or (stored.changed_at is not None and stored.changed_at > mine):
            current.snapshot = stored
        if row.last_probe_at is not None and (
            current.last_probe_at is None or row.last_probe_at > current.last_probe_at
        ):
            current.last_probe_at = row.last_probe_at

    def apply_event(
        self, account_id: uuid.UUID, event: Event, *, actor_label: str
    ) -> Transition | None:
        """Apply a hot-path event in memory now; persist any transition asynchronously."""
        runtime = self.accounts.get(account_id)
        if runtime is None:
            return None
        before = runtime.snapshot
        outcome = apply(before, event, self.policy)
        runtime.snapshot = outcome.snapshot
        if outcome.transition is not None:
            transition = outcome.transition
            log.info(
                "pool account %s: %s -> %s (%s)",
                runtime.config.name,
                transition.from_state,
                transition.to_state,
                transition.reason,
            )
            self._persist(
                _persist_transition(account_id, outcome.snapshot, transition, actor_label)
            )
            if transition.to_state is AccountState.NEEDS_ATTENTION:
                self._persist(
                    _persist_alert(
                        "account_needs_attention",
                        runtime.config.name,
                        f"Account {runtime.config.name} needs attention: {transition.reason}.",
                        {"account_id": str(account_id)},
                    )
                )
        elif outcome.snapshot != before and outcome.snapshot.state == before.state:
            # Failure counts moved without a transition: keep them for the next process start.
            self._persist(_persist_counters(account_id, outcome.snapshot))
        return outcome.transition

    def alert_no_account(self, model: str, protocol: str, reasons: list[str]) -> None:
        """Tell admins (a pool alert, at most once per model every five minutes)."""
        if not self._due(model):
            return
        log.warning(
            "no pool account can serve %s (%s): %s",
            model,
            protocol,
            "; ".join(reasons) or "none configured",
        )
        self._persist(
            _persist_alert(
                "no_account_available",
                model,
                f"No account can serve {model} right now.",
                {"protocol": protocol, "reasons": reasons[:20]},
            )
        )

    def alert_usage_anomaly(
        self, account_id: uuid.UUID, *, request_id: str, model: str, anomalies: Iterable[str]
    ) -> None:
        """An upstream reported usage that is not sane (see `providers.metering`): always
        logged; a pool alert on the account at most once every five minutes."""
        runtime = self.accounts.get(account_id)
        name = runtime.config.name if runtime is not None else str(account_id)
        found = list(anomalies)[:10]
        log.warning(
            "pool account %s reported unusable usage for %s (request %s): %s",
            name,
            model,
            request_id,
            "; ".join(found),
        )
        if not self._due(f"usage_anomaly:{account_id}"):
            return
        self._persist(
            _persist_alert(
                "usage_anomaly",
                name,
                f"Account {name} reported usage that cannot be right ({found[0] if found else ''}); "
                "the request was billed on an estimate. Check the upstream or its proxy.",
                {
                    "account_id": str(account_id),
                    "request_id": request_id,
                    "model": model,
                    "anomalies": found,
                },
            )
        )

    def _due(self, key: str) -> bool:
        """Whether the alert `key` may fire now (at most once every five minutes)."""
        now = utc_now()
        last = self._alerted.get(key)
        if last is not None and now - last < _ALERT_EVERY:
            return False
        self._alerted[key] = now
        return True

    def _persist(self, work: PersistWork) -> None:
        if self.persist is None:
            self.pending.append(work)
            return
        self.persist(work)

    async def drain(self, session: AsyncSession) -> int:
        """Run persistence work queued without a hook (tests and CLI)."""
        work, self.pending = self.pending, []
        for item in work:
            await item(session)
        return len(work)


def _persist_transition(
    account_id: uuid.UUID, snapshot: StateSnapshot, transition: Transition, actor_label: str
) -> PersistWork:
    async def work(session: AsyncSession) -> None:
        await repository.store_transition(
            session,
            account_id=account_id,
            snapshot=snapshot,
            transition=transition,
            actor_label=actor_label,
        )

    return work


def _persist_counters(account_id: uuid.UUID, snapshot: StateSnapshot) -> PersistWork:
    async def work(session: AsyncSession) -> None:
        await repository.store_counters(session, account_id=account_id, snapshot=snapshot)

    return work


def _persist_alert(kind: str, subject: str, message: str, details: dict[str, Any]) -> PersistWork:
    async def work(session: AsyncSession) -> None:
        await repository.add_alert(
            session, kind=kind, subject=subject, message=message, details=details
        )

    return work
