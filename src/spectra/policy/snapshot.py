"""The facts the access decision reads, held in memory by the gateway (`PolicyCache`) and
loaded on demand by `explain`: entitlements, package terms, group switches, wallet accounts."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypedDict, Unpack

from spectra.budgets.terms import BudgetTerms, load_terms
from spectra.db.changes import Change
from spectra.db.session import AnySession, Database, read_scope
from spectra.kit.clock import utc_now
from spectra.ledger.models import AccountKind
from spectra.packages import service as packages_service
from spectra.packages.models import PackageStatus
from spectra.packages.service import Entitlement
from spectra.users.models import User
from spectra.workspace import service as workspace_service
from spectra.workspace.schemas import WorkspaceSettings

from . import repository
from .budget_counters import PERIODS, BudgetCounters
from .budget_inputs import budget_inputs
from .counters import SpendCounters, month_start
from .decide import PackageFacts, PolicyInputs, WalletFacts
from .repository import GroupRules, VersionTerms

log = logging.getLogger(__name__)

GROUP_POLICY_CHANGE = "policy.group"
MEMBER_GRANT_CHANGE = "policy.member"
_NO_RULES = GroupRules()
"""A group without a policy row (frozen, so one instance serves every request)."""


_USER_WALLET = AccountKind.USER_WALLET.value
_GROUP_WALLET = AccountKind.GROUP_WALLET.value
MAX_MEMBERS = 16384
"""At most this many members' facts per snapshot (it starts over beyond that)."""


@dataclass(frozen=True, slots=True)
class MemberFacts:
    """The snapshot's facts about one member in one group (`Snapshot.member`)."""

    entitlements: tuple[tuple[Entitlement, int | None], ...]
    """Active package assignments, each with its version's allowance per period (micros)."""
    wallet: uuid.UUID | None
    group_wallet: uuid.UUID | None
    accounts: tuple[uuid.UUID, ...]
    """Every account whose available amount the decision reads (allowances, then wallets)."""
    rules: GroupRules
    group_name: str
    grants: tuple[str, ...]


class MoreInputs(TypedDict, total=False):
    """The optional facts of `Snapshot.inputs` besides the member and the money."""

    key_id: uuid.UUID | None
    key_scopes: Iterable[str]
    client: str | None
    spent: tuple[int, int]
    project_header: str | None
    budget_spend: BudgetCounters | None
    now: datetime | None


@dataclass(slots=True)
class Snapshot:
    entitlements: dict[uuid.UUID, list[Entitlement]] = field(default_factory=dict)
    terms: dict[tuple[uuid.UUID, int], VersionTerms] = field(default_factory=dict)
    policies: dict[uuid.UUID, GroupRules] = field(default_factory=dict)
    grants: dict[uuid.UUID, tuple[str, ...]] = field(default_factory=dict)
    """Model patterns granted to members one by one (rollout cohorts)."""
    group_names: dict[uuid.UUID, str] = field(default_factory=dict)
    wallets: dict[tuple[str, uuid.UUID], uuid.UUID] = field(default_factory=dict)
    wallet_owner: dict[uuid.UUID, tuple[str, uuid.UUID]] = field(default_factory=dict)
    budgets: BudgetTerms = field(default_factory=BudgetTerms)
    """Key budgets, projects and live extensions (spectra.budgets)."""
    static: dict[tuple[int, str, str | None, str | None], tuple[object, bool]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """The gateway's cached outcome of the decision's static rules (`decide.STATIC_RULES`) per
    (id of the key entry, model, client, project header): (the entry, whether they pass).
    The entry is kept so a recycled id cannot match; `changed` empties it."""
    _offered: tuple[tuple[str, tuple[str, ...]], ...] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    members: dict[tuple[uuid.UUID, uuid.UUID], MemberFacts] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """`member` per (user, group), built once per snapshot. The caches are not `init`
    fields, so `dataclasses.replace` (the dry run's proposed snapshot) starts with none."""

    def changed(self) -> None:
        """Forget what was computed from the snapshot's facts (call after changing them)."""
        self.static.clear()
        self.members.clear()
        self._offered = None

    @property
    def offered(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        if self._offered is None:
            self._offered = tuple(
                sorted(
                    (t.package_name, t.model_patterns)
                    for t in self.terms.values()
                    if t.is_current and t.package_status == PackageStatus.ACTIVE
                )
            )
        return self._offered

    def wallet_of(self, kind: str, owner_id: uuid.UUID) -> uuid.UUID | None:
        return self.wallets.get((kind, owner_id))

    def member(self, user_id: uuid.UUID, group_id: uuid.UUID) -> MemberFacts:
        """What the snapshot says about this member in this group, built once per snapshot
        (`changed` forgets it)."""
        slot = (user_id, group_id)
        found = self.members.get(slot)
        if found is None:
            if len(self.members) >= MAX_MEMBERS:
                self.members.clear()
            found = self.members[slot] = self._member(user_id, group_id)
        return found

    def _member(self, user_id: uuid.UUID, group_id: uuid.UUID) -> MemberFacts:
        entitlements = tuple(
            (e, terms.allowance_micros if terms is not None else None)
            for e in self.entitlements.get(user_id, ())
            for terms in (self.terms.get((e.package_id, e.version)),)
        )
        wallet = self.wallet_of(_USER_WALLET, user_id)
        group_wallet = self.wallet_of(_GROUP_WALLET, group_id)
        accounts = [e.allowance_account_id for e, _ in entitlements]
        accounts += [a for a in (wallet, group_wallet) if a is not None]
        return MemberFacts(
            entitlements,
            wallet,
            group_wallet,
            tuple(accounts),
            self.policies.get(group_id, _NO_RULES),
            self.group_names.get(group_id, "your group"),
            self.grants.get(user_id, ()),
        )

    def funding_accounts(self, user_id: uuid.UUID, group_id: uuid.UUID) -> list[uuid.UUID]:
        """Every account whose available amount the decision needs for this member."""
        return list(self.member(user_id, group_id).accounts)

    def member_inputs(
        self,
        member: User,
        available: Mapping[uuid.UUID, int],
        settings: WorkspaceSettings,
        **more: Unpack[MoreInputs],
    ) -> PolicyInputs:
        """`inputs` for a member read from the database, in the workspace's currency and zone."""
        return self.inputs(
            user_id=member.id,
            user_email=member.email,
            user_status=member.status,
            group_id=member.group_id,
            available=available,
            currency=settings.currency,
            time_zone=settings.time_zone,
            **more,
        )

    def inputs(
        self,
        *,
        user_id: uuid.UUID,
        user_email: str,
        user_status: str,
        group_id: uuid.UUID,
        available: Mapping[uuid.UUID, int],
        key_id: uuid.UUID | None = None,
        key_scopes: Iterable[str] = (),
        currency: str = "USD",
        time_zone: str = "UTC",
        client: str | None = None,
        spent: tuple[int, int] = (0, 0),
        project_header: str | None = None,
        budget_spend: BudgetCounters | None = None,
        now: datetime | None = None,
    ) -> PolicyInputs:
        """The decision's inputs; `spent` = (group, member) month-to-date spend, micros;
        `budget_spend` the key and project spend; `project_header` = `x-spectra-project`."""
        member = self.member(user_id, group_id)
        packages = tuple(
            PackageFacts(
                e.assignment_id,
                e.package_name,
                e.allowance_account_id,
                e.model_patterns,
                e.period_ends_at,
                available.get(e.allowance_account_id, 0),
                allowance,
                e.max_cost_per_request_micros,
                e.rpm,
                e.tpm,
                e.max_concurrent,
            )
            for e, allowance in member.entitlements
        )
        wallet, group_wallet, rules = member.wallet, member.group_wallet, member.rules
        return PolicyInputs(
            user_id=user_id,
            user_email=user_email,
            user_status=user_status,
            group_id=group_id,
            group_name=member.group_name,
            packages=packages,
            wallet=WalletFacts(wallet, available.get(wallet, 0) if wallet else 0),
            group_wallet=WalletFacts(
                group_wallet, available.get(group_wallet, 0) if group_wallet else 0
            ),
            key_id=key_id,
            key_scopes=tuple(key_scopes),
            wallet_fallback=rules.wallet_fallback,
            group_wallet_fallback=rules.group_wallet_fallback,
            offered=self.offered,
            currency=currency,
            time_zone=time_zone,
            allowed_models=rules.allowed_models,
            member_models=member.grants,
            denied_models=rules.denied_models,
            allowed_clients=rules.allowed_clients,
            client=client,
            group_cap_micros=rules.monthly_cap_micros,
            group_spent_micros=spent[0],
            member_cap_micros=rules.member_monthly_cap_micros,
            member_spent_micros=spent[1],
            rpm=rules.rpm,
            tpm=rules.tpm,
            max_concurrent=rules.max_concurrent,
            default_package=rules.default_package,
            **budget_inputs(
                self.budgets,
                budget_spend,
                user_id=user_id,
                key_id=key_id,
                project_header=project_header,
                now=now or utc_now(),
            ),
        )

    def put_wallets(self, rows: Iterable[tuple[uuid.UUID, str, uuid.UUID]]) -> None:
        for account_id, kind, owner in rows:
            self.wallets[(kind, owner)] = account_id
            self.wallet_owner[account_id] = (kind, owner)
        self.changed()


async def load_snapshot(
    session: AnySession,
    *,
    user_ids: list[uuid.UUID] | None = None,
    group_ids: list[uuid.UUID] | None = None,
) -> Snapshot:
    """Read the snapshot (for everyone, or only the named users and groups)."""
    snap = Snapshot()
    for e in await packages_service.entitlements_for_users(session, user_ids):
        snap.entitlements.setdefault(e.user_id, []).append(e)
    snap.terms = {(t.package_id, t.version): t for t in await repository.package_terms(session)}
    snap.policies = await repository.group_policies(session, group_ids)
    snap.grants = await repository.member_grants(session, user_ids)
    snap.group_names = await repository.group_names(session, group_ids)
    owners = None if user_ids is None else [*user_ids, *(group_ids or [])]
    snap.put_wallets(await repository.wallet_accounts(session, owner_ids=owners))
    snap.budgets = await load_terms(session)
    return snap


class PolicyCache:
    """The gateway's snapshot for every member, refreshed through the change feed."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.snapshot = Snapshot()
        self.spend = SpendCounters()
        self._lock = asyncio.Lock()
        self.loaded = False

    async def load(self) -> None:
        async with self._lock, read_scope(self.db) as session:
            self.snapshot = await load_snapshot(session)
            await self.load_spend(session)
            self.loaded = True

    async def load_spend(self, session: AnySession) -> None:
        """This month's spend per group and member, from the usage records (see counters.py)."""
        time_zone = (await workspace_service.get_settings(session)).time_zone
        month = month_start(utc_now(), time_zone)
        groups, members = await repository.spend_since(session, month)
        self.spend.time_zone = time_zone
        self.spend.replace(groups, members, month)
        await load_budget_spend(session, self.spend.budgets, time_zone)

    async def apply(self, changes: list[Change]) -> None:
        """Change-feed listener (`packages.`, `policy.`, `groups.`, `ledger.balance`)."""
        users: set[uuid.UUID] = set()
        accounts: set[uuid.UUID] = set()
        reload_terms = reload_groups = reload_budgets = False
        for change in changes:
            entity = _uuid(change.entity_id)
            if change.kind.startswith("budgets."):
                reload_budgets = True
            elif change.kind.startswith("packages."):
                reload_terms = True
                if entity is not None:
                    users.add(entity)
            elif change.kind.startswith(("policy.", "groups.")):
                reload_groups = True
            elif (
                change.kind.startswith("ledger.")
                and entity is not None
                and entity not in self.snapshot.wallet_owner
            ):
                accounts.add(entity)
        if not (users or accounts or reload_terms or reload_groups or reload_budgets):
            return
        async with self._lock, read_scope(self.db) as session:
            snap = self.snapshot
            if users:
                fresh = await packages_service.entitlements_for_users(session, sorted(users))
                for user_id in users:
                    snap.entitlements.pop(user_id, None)
                for e in fresh:
                    snap.entitlements.setdefault(e.user_id, []).append(e)
            if reload_terms:
                snap.terms = {
                    (t.package_id, t.version): t for t in await repository.package_terms(session)
                }
            if reload_groups or reload_terms:
                snap.policies = await repository.group_policies(session)
                snap.grants = await repository.member_grants(session)
            if reload_groups:
                snap.group_names = await repository.group_names(session)
            if reload_budgets:
                snap.budgets = await load_terms(session)
            if accounts:
                snap.put_wallets(
                    await repository.wallet_accounts(session, account_ids=sorted(accounts))
                )
            snap.changed()


async def load_budget_spend(
    session: AnySession,
    counters: BudgetCounters,
    time_zone: str,
    *,
    key_ids: list[uuid.UUID] | None = None,
    project_ids: list[uuid.UUID] | None = None,
) -> None:
    """Key spend this day, week and month and project spend this month, from the usage
    records (for everyone, or only the keys and projects named)."""
    now = utc_now()
    counters.time_zone = time_zone
    starts = counters.starts(now)
    keys = {
        period: await repository.key_spend_since(session, starts[period], key_ids)
        for period in PERIODS
    }
    projects = await repository.project_spend_since(session, starts["month"], project_ids)
    counters.replace(keys, projects, now)


def _uuid(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


_cache: PolicyCache | None = None


def current_cache() -> PolicyCache:
    if _cache is None:
        raise RuntimeError("The policy cache is not installed in this process.")
    return _cache


def set_current(cache: PolicyCache | None) -> None:
    global _cache
    _cache = cache
