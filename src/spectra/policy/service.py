"""Policy service: explain the access decision for a member and a model (the same pure
function and trace the gateway uses), and set a group's funding switches.

`from spectra.policy import service as policy_service`.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from fnmatch import fnmatchcase
from typing import Any

from spectra.audit import service as audit_service
from spectra.audit.actor import SYSTEM, Actor
from spectra.db.changes import record_change
from spectra.db.session import AnySession, ReadSession, Session
from spectra.keys import service as keys_service
from spectra.kit.clock import utc_now
from spectra.kit.money import format_amount
from spectra.ledger import service as ledger_service
from spectra.ledger.models import AccountKind
from spectra.packages import service as packages_service
from spectra.pool import service as pool_service
from spectra.usage.defaults import known_models
from spectra.users import service as users_service
from spectra.users.models import User
from spectra.users.permissions import Permission, require
from spectra.workspace import service as workspace_service
from spectra.workspace.schemas import WorkspaceSettings

from . import repository
from .budget_counters import BudgetCounters
from .counters import month_start
from .decide import Decision, decide
from .errors import PolicyKeyNotFoundError
from .models import GroupPolicy, MemberGrant
from .poolstep import with_pool_step
from .repository import GroupRules
from .schemas import GroupPolicyChange
from .snapshot import (
    GROUP_POLICY_CHANGE,
    MEMBER_GRANT_CHANGE,
    Snapshot,
    load_budget_spend,
    load_snapshot,
)


async def _member_facts(
    session: AnySession, member: User
) -> tuple[Snapshot, dict[uuid.UUID, int], WorkspaceSettings]:
    """What deciding for one member reads: the snapshot of them and their group, the balances
    of the accounts that could fund them, the workspace settings."""
    snap = await load_snapshot(session, user_ids=[member.id], group_ids=[member.group_id])
    accounts = snap.funding_accounts(member.id, member.group_id)
    balances = await ledger_service.get_balances(session, accounts)
    return snap, balances, await workspace_service.get_settings(session)


async def explain(
    session: AnySession,
    actor: Actor,
    *,
    user: uuid.UUID | str,
    model: str,
    key_id: uuid.UUID | None = None,
    client: str | None = None,
    protocol: str | None = None,
    project: str | None = None,
) -> Decision:
    """Decide, from the database, whether `user` (id or email) may use `model` now and who would
    pay; with `key_id`, through that key's scope; with `client` (a client family), as if that
    tool sent it. Then the pool step: which accounts could serve the model for a caller
    speaking `protocol` (any when None) and why the others are skipped; a model no account
    serves is refused as `model_not_served`. With `project`, as if the request named that
    project in `x-spectra-project`. A member may explain their own access."""
    require(actor, Permission.SELF)
    member = await users_service.get_user(session, actor, user=user)
    scopes: tuple[str, ...] = ()
    if key_id is not None:
        key = await keys_service.get_key(session, actor, key_id=key_id)
        if key.user_id != member.id:
            raise PolicyKeyNotFoundError(
                f"That key does not belong to {member.email}.", key_id=str(key_id)
            )
        scopes = tuple(key.scopes or ())
    snap, balances, settings = await _member_facts(session, member)
    now = utc_now()
    groups, members = await repository.spend_since(
        session,
        month_start(now, settings.time_zone),
        group_ids=[member.group_id],
        user_ids=[member.id],
    )
    budget_spend = BudgetCounters()
    await load_budget_spend(
        session,
        budget_spend,
        settings.time_zone,
        key_ids=[key_id] if key_id is not None else [],
        project_ids=list(snap.budgets.projects),
    )
    inputs = snap.member_inputs(
        member,
        balances,
        settings,
        key_id=key_id,
        key_scopes=scopes,
        client=client,
        spent=(groups.get(member.group_id, 0), members.get(member.id, 0)),
        project_header=project,
        budget_spend=budget_spend,
        now=now,
    )
    found = await pool_service.model_coverage(
        ReadSession(session), actor, model=model, protocol=protocol, group_id=member.group_id
    )
    return with_pool_step(decide(inputs, model, now=now), found)


async def set_group_funding(
    session: Session,
    actor: Actor,
    *,
    group: uuid.UUID | str,
    wallet_fallback: bool | None = None,
    group_wallet_fallback: bool | None = None,
) -> GroupPolicy:
    """Turn a group's funding fallbacks on or off (both on by default). Writes an audit event
    and a `policy.group` change, so every gateway applies it within a second."""
    require(actor, Permission.POLICY_WRITE)
    target = await users_service.get_group(session, actor, group=group)
    row = await repository.get_group_policy(session, target.id)
    before = None if row is None else _view(row)
    if row is None:
        row = GroupPolicy(
            group_id=target.id, is_wallet_fallback=True, is_group_wallet_fallback=True
        )
        session.add(row)
    if wallet_fallback is not None:
        row.is_wallet_fallback = wallet_fallback
    if group_wallet_fallback is not None:
        row.is_group_wallet_fallback = group_wallet_fallback
    row.updated_at = utc_now()
    await session.flush()
    await audit_service.record_on(
        session, actor, "policy.group_funding", "group", target, before=before, after=_view(row)
    )
    await record_change(session, GROUP_POLICY_CHANGE, target.id)
    return row


async def get_group_policy(
    session: AnySession, actor: Actor, *, group: uuid.UUID | str
) -> dict[str, Any]:
    """A group's whole policy: allowed and denied models, clients, request limits, the funding
    switches, its caps with this month's spend, and its default package."""
    require(actor, Permission.READ_ALL)
    target = await users_service.get_group(session, actor, group=group)
    rules = (await repository.group_policies(session, [target.id])).get(target.id, GroupRules())
    settings = await workspace_service.get_settings(session)
    month = month_start(utc_now(), settings.time_zone)
    groups, _ = await repository.spend_since(session, month, group_ids=[target.id], user_ids=[])
    return group_policy_view(target.name, target.id, rules, spent=groups.get(target.id, 0))


def group_policy_view(
    name: str, group_id: uuid.UUID, rules: GroupRules, *, spent: int | None = None
) -> dict[str, Any]:
    def money(field: str, micros: int | None) -> dict[str, Any]:
        return {field: None if micros is None else format_amount(micros), f"{field}_micros": micros}

    view: dict[str, Any] = {
        "group": name,
        "group_id": str(group_id),
        "allowed_models": list(rules.allowed_models),
        "denied_models": list(rules.denied_models),
        "allowed_clients": list(rules.allowed_clients),
        "rpm": rules.rpm,
        "tpm": rules.tpm,
        "max_concurrent": rules.max_concurrent,
        "wallet_fallback": rules.wallet_fallback,
        "group_wallet_fallback": rules.group_wallet_fallback,
        **money("monthly_cap", rules.monthly_cap_micros),
        **money("member_monthly_cap", rules.member_monthly_cap_micros),
        "default_package": rules.default_package,
    }
    if spent is not None:
        view.update(money("spent_this_month", spent))
    return view


def rules_after(rules: GroupRules, change: GroupPolicyChange) -> GroupRules:
    """The rules once `change` is applied (pure: the dry-run and publish agree)."""
    fields = change.model_fields_set
    values: dict[str, Any] = {}
    for name in ("allowed_models", "denied_models", "allowed_clients"):
        if name in fields:
            values[name] = tuple(getattr(change, name) or ())
    for name in ("rpm", "tpm", "max_concurrent"):
        if name in fields:
            values[name] = getattr(change, name)
    for name in ("wallet_fallback", "group_wallet_fallback"):
        if name in fields and getattr(change, name) is not None:
            values[name] = getattr(change, name)
    if "monthly_cap" in fields:
        values["monthly_cap_micros"] = change.monthly_cap
    if "member_monthly_cap" in fields:
        values["member_monthly_cap_micros"] = change.member_monthly_cap
    return replace(rules, **values)


async def apply_group_rules(
    session: Session,
    actor: Actor,
    *,
    group_id: uuid.UUID,
    rules: GroupRules,
) -> None:
    """Write `rules` (policy row and caps) for a group, with a `policy.group` change. No audit:
    the caller (publish, promote, rollback) records one event for the whole action."""
    row = await repository.get_group_policy(session, group_id)
    if row is None:
        row = GroupPolicy(group_id=group_id)
        session.add(row)
    row.is_wallet_fallback = rules.wallet_fallback
    row.is_group_wallet_fallback = rules.group_wallet_fallback
    row.allowed_models = list(rules.allowed_models)
    row.denied_models = list(rules.denied_models)
    row.allowed_clients = list(rules.allowed_clients)
    row.rpm, row.tpm, row.max_concurrent = rules.rpm, rules.tpm, rules.max_concurrent
    row.updated_at = utc_now()
    group = await users_service.get_group(session, SYSTEM, group=group_id)
    if (group.monthly_cap_micros, group.member_monthly_cap_micros) != (
        rules.monthly_cap_micros,
        rules.member_monthly_cap_micros,
    ):
        await users_service.update_group(
            session,
            actor,
            group=group_id,
            monthly_cap_micros=rules.monthly_cap_micros,
            member_monthly_cap_micros=rules.member_monthly_cap_micros,
        )
    await session.flush()
    await record_change(session, GROUP_POLICY_CHANGE, group_id)


async def set_member_grant(session: Session, *, user_id: uuid.UUID, models: list[str]) -> None:
    """Set the model patterns granted to one member (empty removes the grant). No audit: the
    rollout action that calls it records one event."""
    row = await repository.get_member_grant(session, user_id)
    if not models:
        if row is not None:
            await session.delete(row)
    elif row is None:
        session.add(MemberGrant(user_id=user_id, models=list(models), updated_at=utc_now()))
    else:
        row.models, row.updated_at = list(models), utc_now()
    await session.flush()
    await record_change(session, MEMBER_GRANT_CHANGE, user_id)


MONEY_REASONS = frozenset({"package_allowance_exhausted", "wallet_empty"})


async def served_models(session: AnySession) -> list[str]:
    """Models the pool serves: concrete names and aliases, and priced models its globs match."""
    page = await pool_service.list_accounts(ReadSession(session), SYSTEM, limit=1000)
    priced = [m for _, m in known_models()]
    out: set[str] = set()
    for account in page.items:
        out.update(account.aliases or {})
        for pattern in account.models or []:
            if not set("*?[") & set(pattern):
                out.add(pattern)
            else:
                out.update(m for m in priced if fnmatchcase(m, pattern))
    return sorted(out)


async def member_view(
    session: AnySession, actor: Actor, *, user_id: uuid.UUID, key_id: uuid.UUID | None = None
) -> dict[str, Any]:
    """What a member has: packages (allowance, used, left, reset), wallet and group wallet
    balances, and the models they may use (through `key_id`'s scope when given)."""
    require(actor, Permission.SELF)
    member = await users_service.get_user(session, actor, user=user_id)
    holdings = await packages_service.packages_of_user(session, actor, user_id=member.id)
    snap, balances, settings = await _member_facts(session, member)
    scopes: tuple[str, ...] = ()
    if key_id is not None:
        key = await keys_service.get_key(session, actor, key_id=key_id)
        scopes = tuple(key.scopes or ())
    inputs = snap.member_inputs(member, balances, settings, key_id=key_id, key_scopes=scopes)
    now = utc_now()
    models = []
    for model in await served_models(session):
        decision = decide(inputs, model, now=now)
        if decision.allowed or decision.reason_code in MONEY_REASONS:
            models.append(model)

    def money(name: str, micros: int | None) -> dict[str, Any]:
        if micros is None:
            return {name: None, f"{name}_micros": None}
        return {name: format_amount(micros), f"{name}_micros": micros}

    wallet = snap.wallet_of(AccountKind.USER_WALLET.value, member.id)
    group_wallet = snap.wallet_of(AccountKind.GROUP_WALLET.value, member.group_id)
    return {
        "currency": settings.currency,
        "packages": [
            {
                "assignment_id": str(h.assignment.id),
                "package": h.package_name,
                "version": h.version,
                **money("allowance", h.allowance_micros),
                **money("available", h.available_micros),
                **money("used", h.used_micros),
                **money("left", h.remaining_micros),
                "period_ends_at": h.period_ends_at.isoformat() if h.period_ends_at else None,
                "resets_at": h.next_reset_at.isoformat() if h.next_reset_at else None,
                "models": h.model_patterns,
            }
            for h in holdings
        ],
        "wallet": money("balance", balances.get(wallet, 0) if wallet else 0),
        "group_wallet": {
            "group": snap.group_names.get(member.group_id),
            "usable": inputs.group_wallet_fallback,
            **money("balance", balances.get(group_wallet, 0) if group_wallet else 0),
        },
        "models": models,
    }


def _view(row: GroupPolicy) -> dict[str, bool]:
    return {
        "wallet_fallback": row.is_wallet_fallback,
        "group_wallet_fallback": row.is_group_wallet_fallback,
    }


__all__ = [
    "Decision",
    "apply_group_rules",
    "explain",
    "get_group_policy",
    "group_policy_view",
    "member_view",
    "rules_after",
    "served_models",
    "set_group_funding",
    "set_member_grant",
]
