"""Dry-run: a proposed policy state judged against the recorded requests of the last N days and
the current entitlements, with the same decision function the gateway calls.

Every recorded request of the affected members is decided again "as if it arrived now" under
the current and the proposed state: the member's key (its scope today), the model and the
client family it was sent with; balances, holds-free, and month-to-date spend as they are now.
Refusals the decision cannot foresee (rate limits, an estimate larger than what is left, an
unpriced model, no pool account) are not predicted. Spend impact: requests newly refused take
away what they cost; requests newly allowed add the average cost of an allowed request for
that model in the window (0 when there is none, flagged in `unestimated_models`).
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

from spectra.db.session import AnySession
from spectra.kit.money import format_amount
from spectra.ledger import service as ledger_service
from spectra.packages.service import Entitlement
from spectra.users.models import User
from spectra.workspace import service as workspace_service

from . import repository
from .counters import month_start
from .decide import Decision, PolicyInputs, decide
from .repository import GroupRules
from .snapshot import Snapshot, load_snapshot

MONEY_REASONS = frozenset({"package_allowance_exhausted", "wallet_empty"})
"""Refusals that are about money, not access: the member can use the model once funded."""
LIST_LIMIT = 500


@dataclass(frozen=True, slots=True)
class PackageGain:
    """A package a member would be given (a rollout cohort's template)."""

    package_id: uuid.UUID
    package_name: str
    version: int
    model_patterns: tuple[str, ...]
    allowance_micros: int
    max_cost_per_request_micros: int | None
    rpm: int | None
    tpm: int | None
    max_concurrent: int | None
    period_ends_at: datetime


@dataclass(slots=True)
class Proposal:
    """What a draft would change: rules of some groups, grants of some members, packages given."""

    users: list[User]
    """The affected members: whose access and past requests the dry-run judges."""
    rules: dict[uuid.UUID, GroupRules] = field(default_factory=dict)
    grants: dict[uuid.UUID, tuple[str, ...]] = field(default_factory=dict)
    packages: dict[uuid.UUID, PackageGain] = field(default_factory=dict)
    extra_models: tuple[str, ...] = ()
    """Patterns the change is about (to list concrete models whose access changes)."""


def _proposed(current: Snapshot, proposal: Proposal, balances: dict[uuid.UUID, int]) -> Snapshot:
    snap = replace(
        current,
        entitlements={u: list(es) for u, es in current.entitlements.items()},
        policies={**current.policies, **proposal.rules},
        grants={**current.grants, **proposal.grants},
    )
    for user_id, gain in proposal.packages.items():
        account = uuid.uuid5(uuid.NAMESPACE_OID, f"dry-run:{user_id}:{gain.package_id}")
        balances[account] = gain.allowance_micros
        snap.entitlements.setdefault(user_id, []).append(
            Entitlement(
                user_id=user_id,
                assignment_id=account,
                package_id=gain.package_id,
                package_name=gain.package_name,
                version=gain.version,
                model_patterns=gain.model_patterns,
                rpm=gain.rpm,
                tpm=gain.tpm,
                max_concurrent=gain.max_concurrent,
                max_cost_per_request_micros=gain.max_cost_per_request_micros,
                allowance_account_id=account,
                period_starts_at=gain.period_ends_at,
                period_ends_at=gain.period_ends_at,
            )
        )
    return snap


def _has_access(decision: Decision) -> bool:
    return decision.allowed or decision.reason_code in MONEY_REASONS


def _concrete(patterns: Iterable[str], known: Iterable[str], priced: Iterable[str]) -> set[str]:
    """Concrete models the patterns name: those the pool serves or members asked for, else
    (a pattern nobody uses yet) the priced models it matches."""
    out: set[str] = set()
    known, priced = list(known), list(priced)
    for pattern in patterns:
        if set("*?[") & set(pattern):
            found = [m for m in known if fnmatchcase(m, pattern)]
            out.update(found or [m for m in priced if fnmatchcase(m, pattern)])
        else:
            out.add(pattern)
    return out


async def run(
    session: AnySession,
    proposal: Proposal,
    *,
    days: int,
    now: datetime,
    served: list[str],
    priced: Sequence[str] = (),
) -> dict[str, Any]:
    """Judge `proposal`; the stored, shown result (JSON)."""
    users = proposal.users
    user_ids = [u.id for u in users]
    group_ids = sorted({u.group_id for u in users} | set(proposal.rules), key=str)
    current = await load_snapshot(session, user_ids=user_ids, group_ids=group_ids)
    accounts = [a for u in users for a in current.funding_accounts(u.id, u.group_id)]
    balances = dict(await ledger_service.get_balances(session, accounts))
    proposed = _proposed(current, proposal, balances)
    settings = await workspace_service.get_settings(session)
    groups_spent, members_spent = await repository.spend_since(
        session, month_start(now, settings.time_zone), group_ids=group_ids, user_ids=user_ids
    )
    since = now - timedelta(days=days)
    records = await repository.records_since(session, since, user_ids)
    keys = await repository.scoped_keys(session, user_ids)
    by_id = {u.id: u for u in users}

    def inputs(
        snap: Snapshot,
        user: User,
        *,
        key_id: uuid.UUID | None = None,
        client: str | None = None,
    ) -> PolicyInputs:
        scopes = keys.get(key_id, (user.id, ()))[1] if key_id is not None else ()
        return snap.member_inputs(
            user,
            balances,
            settings,
            key_id=key_id,
            key_scopes=scopes,
            client=client,
            spent=(groups_spent.get(user.group_id, 0), members_spent.get(user.id, 0)),
        )

    ok_cost: dict[str, list[int]] = defaultdict(list)
    for r in records:
        if r.status in ("ok", "partial"):
            ok_cost[r.model_requested].append(r.cost_micros)

    refused: list[dict[str, Any]] = []
    by_reason: Counter[str] = Counter()
    newly_refused = newly_allowed = refused_before = 0
    impact = 0
    unestimated: set[str] = set()
    spend_window = 0
    for r in records:
        user = by_id.get(r.user_id) if r.user_id is not None else None
        if user is None:
            continue
        spend_window += r.cost_micros
        before = r.status == "refused"
        refused_before += before
        after = decide(
            inputs(proposed, user, key_id=r.key_id, client=r.client_family),
            r.model_requested,
            now=now,
        )
        if not after.allowed:
            by_reason[after.reason_code or "refused"] += 1
            if len(refused) < LIST_LIMIT:
                refused.append(
                    {
                        "request_id": r.request_id,
                        "user": user.email,
                        "model": r.model_requested,
                        "client": r.client_family,
                        "at": r.created_at.isoformat(),
                        "reason_code": after.reason_code,
                        "rule": after.deciding_rule,
                        "was_refused": before,
                    }
                )
            if not before:
                newly_refused += 1
                impact -= r.cost_micros
        elif before:
            newly_allowed += 1
            costs = ok_cost.get(r.model_requested)
            if costs:
                impact += sum(costs) // len(costs)
            else:
                unestimated.add(r.model_requested)

    models = set(served) | {r.model_requested for r in records}
    patterns = [
        *proposal.extra_models,
        *(
            p
            for rules in proposal.rules.values()
            for p in (*rules.allowed_models, *rules.denied_models)
        ),
    ]
    models |= _concrete(patterns, set(models), priced)
    changes: list[dict[str, Any]] = []
    gaining: set[str] = set()
    losing: set[str] = set()
    active_keys = await repository.active_keys(session, user_ids)
    for user in users:
        user_keys = [(k, s) for k, u, s in active_keys if u == user.id]
        for model in sorted(models):
            was = _has_access(decide(inputs(current, user), model, now=now))
            will_decision = decide(inputs(proposed, user), model, now=now)
            will = _has_access(will_decision)
            if was == will:
                continue
            (gaining if will else losing).add(user.email)
            affected = [
                str(k) for k, s in user_keys if not s or any(fnmatchcase(model, p) for p in s)
            ]
            if len(changes) < LIST_LIMIT:
                changes.append(
                    {
                        "user": user.email,
                        "model": model,
                        "change": "gain" if will else "lose",
                        "keys": affected,
                        "reason_code": None if will else will_decision.reason_code,
                    }
                )
    per_week = impact * 7 // days if days else impact
    return {
        "days": days,
        "since": since.isoformat(),
        "until": now.isoformat(),
        "members": len(users),
        "requests_evaluated": sum(1 for r in records if r.user_id in by_id),
        "refused_before": refused_before,
        "would_refuse": sum(by_reason.values()),
        "would_refuse_by_reason": dict(sorted(by_reason.items())),
        "newly_refused": newly_refused,
        "newly_allowed": newly_allowed,
        "members_gaining": len(gaining),
        "members_losing": len(losing),
        "access_changes": changes,
        "refused_requests": refused,
        "spend_in_window": format_amount(spend_window),
        "spend_in_window_micros": spend_window,
        "spend_impact": format_amount(impact),
        "spend_impact_micros": impact,
        "spend_impact_per_week": format_amount(per_week),
        "spend_impact_per_week_micros": per_week,
        "unestimated_models": sorted(unestimated),
    }


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """The dry-run's headline numbers (what the publish audit event records)."""
    keys = (
        "days",
        "since",
        "until",
        "members",
        "requests_evaluated",
        "would_refuse",
        "would_refuse_by_reason",
        "newly_refused",
        "newly_allowed",
        "members_gaining",
        "members_losing",
        "spend_impact_micros",
        "spend_impact_per_week_micros",
    )
    return {k: result[k] for k in keys if k in result}
