"""Staged rollouts: cohorts (pilot -> wave 1 -> everyone) promoted in order behind gates.

Promoting a cohort is one audited action in one transaction: its groups' allowed models widen
by the cohort's models (and lose exactly those patterns from their denials), caps are set, the
package template becomes their default and is assigned to every member who lacks it, and members
named one by one get the models as a grant. What it changed, and the state before, is kept on the
cohort, so a rollback restores the groups' rules, defaults and grants exactly and cancels the
assignments the promotion made (their unused allowance expires, as any cancellation).

`from spectra.policy import rollouts as rollouts_service`.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError

from spectra.audit import service as audit_service
from spectra.audit.actor import SYSTEM, Actor
from spectra.db.repository import paginate
from spectra.db.session import AnySession, Session
from spectra.kit.clock import utc_now
from spectra.kit.money import format_amount
from spectra.kit.pagination import Page
from spectra.packages import service as packages_service
from spectra.packages.models import AssignmentStatus, PackageAssignment
from spectra.usage.models import UsageRecord
from spectra.users import service as users_service
from spectra.users.models import User
from spectra.users.permissions import Permission, require

from . import repository
from . import service as policy_service
from .dryrun import PackageGain, Proposal
from .errors import (
    CohortNotFoundError,
    CohortOrderError,
    PolicyChangeInvalidError,
    RolloutExistsError,
    RolloutGateError,
    RolloutNotFoundError,
)
from .models import CohortStatus, Rollout, RolloutCohort, RolloutStatus
from .repository import GroupRules
from .schemas import RolloutCreate, rate_bp

USABLE = ("active", "invited")


@dataclass(frozen=True, slots=True)
class RolloutDetail:
    rollout: Rollout
    cohorts: list[RolloutCohort]


async def create_rollout(session: Session, actor: Actor, *, data: RolloutCreate) -> RolloutDetail:
    """Create a rollout with its cohorts in order; nothing is applied until a promotion.
    Writes an audit event."""
    require(actor, Permission.POLICY_WRITE)
    if await repository.get_rollout(session, data.name) is not None:
        raise RolloutExistsError(f"A rollout named '{data.name}' exists.", name=data.name)
    names = [c.name for c in data.cohorts]
    if len(set(names)) != len(names):
        raise PolicyChangeInvalidError("Cohort names must differ within a rollout.")
    rollout = Rollout(
        name=data.name,
        goal=data.goal,
        status=RolloutStatus.ACTIVE,
        min_days=data.min_days,
        max_error_rate_bp=rate_bp(data.max_error_rate, "max_error_rate"),
        max_refusal_rate_bp=rate_bp(data.max_refusal_rate, "max_refusal_rate"),
        created_by=actor.label,
        created_at=utc_now(),
    )
    session.add(rollout)
    await session.flush()
    cohorts = []
    for position, spec in enumerate(data.cohorts):
        users = await packages_service.resolve_users(session, actor, emails=spec.users)
        group_ids = []
        for name in spec.groups:
            group = await users_service.get_group(session, actor, group=name)
            group_ids.append(str(group.id))
        if not (users or group_ids or spec.everyone):
            raise PolicyChangeInvalidError(
                f"Cohort '{spec.name}' names nobody; give users, groups or everyone."
            )
        if spec.package is not None:
            await packages_service.get_package(session, actor, name=spec.package)
        cohort = RolloutCohort(
            rollout_id=rollout.id,
            position=position,
            name=spec.name,
            user_ids=[str(u.id) for u in users],
            group_ids=group_ids,
            everyone=spec.everyone,
            models=spec.models,
            package=spec.package,
            monthly_cap_micros=spec.monthly_cap,
            member_monthly_cap_micros=spec.member_monthly_cap,
            status=CohortStatus.PENDING,
        )
        session.add(cohort)
        cohorts.append(cohort)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise RolloutExistsError(f"A rollout named '{data.name}' exists.", name=data.name) from exc
    await audit_service.record(
        session,
        actor,
        "rollouts.create",
        target_type="rollout",
        target_id=rollout.id,
        target_label=rollout.name,
        after={"goal": rollout.goal, "cohorts": [cohort_view(c) for c in cohorts]},
    )
    return RolloutDetail(rollout, cohorts)


async def get_rollout(session: AnySession, actor: Actor, *, rollout: str) -> RolloutDetail:
    require(actor, Permission.READ_ALL)
    found = await repository.get_rollout(session, rollout)
    if found is None:
        raise RolloutNotFoundError(
            f"There is no rollout '{rollout}'; `spectra rollouts list` shows them.", rollout=rollout
        )
    return RolloutDetail(found, await repository.cohorts_of(session, found.id))


async def list_rollouts(
    session: AnySession, actor: Actor, *, limit: int | None = None, cursor: str | None = None
) -> Page[Rollout]:
    require(actor, Permission.READ_ALL)
    return await paginate(
        session,
        repository.rollouts_query(),
        sort_time=Rollout.created_at,
        sort_id=Rollout.id,
        limit=limit,
        cursor=cursor,
    )


def find_cohort(
    detail: RolloutDetail, name: str | None, *, for_rollback: bool = False
) -> RolloutCohort:
    """The named cohort; without a name, the next to promote (or the last promoted, to roll back)."""
    if name is not None:
        for cohort in detail.cohorts:
            if cohort.name == name or str(cohort.id) == name:
                return cohort
        raise CohortNotFoundError(
            f"Rollout '{detail.rollout.name}' has no cohort '{name}'.", cohort=name
        )
    if for_rollback:
        promoted = [c for c in detail.cohorts if c.status == CohortStatus.PROMOTED]
        if not promoted:
            raise CohortOrderError(f"Rollout '{detail.rollout.name}' has no promoted cohort.")
        return promoted[-1]
    pending = [c for c in detail.cohorts if c.status != CohortStatus.PROMOTED]
    if not pending:
        raise CohortOrderError(f"Every cohort of rollout '{detail.rollout.name}' is promoted.")
    return pending[0]


async def cohort_targets(
    session: AnySession, cohort: RolloutCohort
) -> tuple[list[uuid.UUID], list[User], list[User]]:
    """(group ids, members of those groups, members named one by one outside them)."""
    if cohort.everyone:
        group_ids = await repository.all_group_ids(session)
    else:
        group_ids = [uuid.UUID(g) for g in cohort.group_ids]
    in_groups = [
        u for u in await repository.users_in(session, group_ids=group_ids) if u.status in USABLE
    ]
    named = [
        u
        for u in await repository.users_in(
            session, user_ids=[uuid.UUID(x) for x in cohort.user_ids]
        )
        if u.group_id not in set(group_ids) and u.status in USABLE
    ]
    return group_ids, in_groups, named


def widened(rules: GroupRules, cohort: RolloutCohort) -> GroupRules:
    """A group's rules once the cohort is promoted (pure)."""
    models = tuple(cohort.models)
    allowed = rules.allowed_models
    if allowed:
        allowed = allowed + tuple(m for m in models if m not in allowed)
    return GroupRules(
        **{
            **asdict(rules),
            "allowed_models": allowed,
            "denied_models": tuple(d for d in rules.denied_models if d not in models),
            "monthly_cap_micros": cohort.monthly_cap_micros
            if cohort.monthly_cap_micros is not None
            else rules.monthly_cap_micros,
            "member_monthly_cap_micros": cohort.member_monthly_cap_micros
            if cohort.member_monthly_cap_micros is not None
            else rules.member_monthly_cap_micros,
            "default_package": cohort.package or rules.default_package,
        }
    )


async def cohort_proposal(session: AnySession, cohort: RolloutCohort) -> Proposal:
    """What promoting `cohort` would change (for the dry-run; `promote` applies the same)."""
    group_ids, in_groups, named = await cohort_targets(session, cohort)
    current = await repository.group_policies(session, group_ids)
    proposal = Proposal(users=in_groups + named, extra_models=tuple(cohort.models))
    for gid in group_ids:
        proposal.rules[gid] = widened(current.get(gid, GroupRules()), cohort)
    grants = await repository.member_grants(session, [u.id for u in named])
    for user in named:
        have = grants.get(user.id, ())
        proposal.grants[user.id] = have + tuple(m for m in cohort.models if m not in have)
    if cohort.package:
        found = await packages_service.get_package(session, SYSTEM, name=cohort.package)
        pkg, version = found.package, found.terms
        preview = await packages_service.preview_assignment(
            session, SYSTEM, package=cohort.package, users=proposal.users
        )
        ends = utc_now() + timedelta(days=30)
        for row in preview.rows:
            if row.change == "gain":
                proposal.packages[row.user_id] = PackageGain(
                    package_id=pkg.id,
                    package_name=pkg.name,
                    version=version.version,
                    model_patterns=tuple(version.model_patterns),
                    allowance_micros=version.allowance_micros,
                    max_cost_per_request_micros=version.max_cost_per_request_micros,
                    rpm=version.rpm,
                    tpm=version.tpm,
                    max_concurrent=version.max_concurrent,
                    period_ends_at=ends,
                )
    return proposal


async def check_gates(
    session: AnySession, detail: RolloutDetail, cohort: RolloutCohort
) -> dict[str, Any]:
    """Refuse a promotion out of order or before its gates open; the gate facts when open."""
    earlier = [c for c in detail.cohorts if c.position < cohort.position]
    if cohort.status == CohortStatus.PROMOTED:
        raise CohortOrderError(f"Cohort '{cohort.name}' is already promoted.", cohort=cohort.name)
    waiting = [c.name for c in earlier if c.status != CohortStatus.PROMOTED]
    if waiting:
        raise CohortOrderError(
            f"Promote {', '.join(waiting)} before '{cohort.name}'; cohorts go in order.",
            cohort=cohort.name,
        )
    facts: dict[str, Any] = {}
    if not earlier:
        return facts
    previous = earlier[-1]
    assert previous.promoted_at is not None
    rollout = detail.rollout
    now = utc_now()
    days = (now - previous.promoted_at) / timedelta(days=1)
    facts["days_since_previous"] = round(days, 2)
    if rollout.min_days is not None and days < rollout.min_days:
        raise RolloutGateError(
            f"Cohort '{previous.name}' was promoted {days:.1f} days ago; the rollout waits "
            f"{rollout.min_days} days before the next cohort.",
            min_days=rollout.min_days,
        )
    if rollout.max_error_rate_bp is None and rollout.max_refusal_rate_bp is None:
        return facts
    _, in_groups, named = await cohort_targets(session, previous)
    totals = await _counts(session, [u.id for u in in_groups + named], previous.promoted_at, now)
    requests = totals["requests"]
    for name, limit, part in (
        ("error rate", rollout.max_error_rate_bp, totals["errors"]),
        ("refusal rate", rollout.max_refusal_rate_bp, totals["refused"]),
    ):
        bp = part * 10_000 // requests if requests else 0
        facts[name.replace(" ", "_") + "_bp"] = bp
        if limit is not None and bp > limit:
            raise RolloutGateError(
                f"Cohort '{previous.name}' has a {name} of {bp / 100:.2f} % since its promotion, "
                f"above the rollout's {limit / 100:.2f} %; look at its metrics first.",
                rate_bp=bp,
                max_bp=limit,
            )
    return facts


async def promote(
    session: Session,
    actor: Actor,
    *,
    rollout: str,
    cohort: str | None = None,
    dry_run: dict[str, Any] | None = None,
    confirmed_without_dry_run: bool = False,
) -> RolloutCohort:
    """Apply a cohort (the next one by default) in one audited action: group rules, caps and
    default package, package assignments, member grants. `drafts.publish_draft` calls it with
    the dry-run summary; without one the caller must have confirmed. Gates are checked first."""
    require(actor, Permission.POLICY_WRITE)
    detail = await get_rollout(session, actor, rollout=rollout)
    target = find_cohort(detail, cohort)
    gates = await check_gates(session, detail, target)
    proposal = await cohort_proposal(session, target)
    group_ids = list(proposal.rules)
    before_rules = await repository.group_policies(session, group_ids)
    names = await repository.group_names(session, group_ids)
    undo: dict[str, Any] = {"groups": {}, "grants": {}, "assignments": []}
    for gid, rules in proposal.rules.items():
        before = before_rules.get(gid, GroupRules())
        undo["groups"][str(gid)] = rules_json(before)
        await policy_service.apply_group_rules(session, actor, group_id=gid, rules=rules)
        if target.package and before.default_package != target.package:
            await packages_service.set_group_default_package(
                session, actor, group=names[gid], package=target.package
            )
    grants_before = await repository.member_grants(session, list(proposal.grants))
    for user_id, models in proposal.grants.items():
        undo["grants"][str(user_id)] = list(grants_before.get(user_id, ()))
        await policy_service.set_member_grant(session, user_id=user_id, models=list(models))
    if target.package:
        for user_id in proposal.packages:
            made = await packages_service.assign_package(
                session,
                actor,
                package=target.package,
                user_id=user_id,
                reason=f"rollout {detail.rollout.name}, cohort {target.name}",
            )
            undo["assignments"].append(str(made.assignment.id))
    target.status = CohortStatus.PROMOTED
    target.promoted_at = utc_now()
    target.rolled_back_at = None
    target.undo = undo
    if all(c.status == CohortStatus.PROMOTED for c in detail.cohorts):
        detail.rollout.status = RolloutStatus.COMPLETED
    await session.flush()
    await audit_service.record(
        session,
        actor,
        "rollouts.promote",
        target_type="rollout",
        target_id=detail.rollout.id,
        target_label=f"{detail.rollout.name} / {target.name}",
        before={"groups": undo["groups"], "grants": undo["grants"]},
        after={
            "groups": {str(g): rules_json(r) for g, r in proposal.rules.items()},
            "grants": {str(u): list(m) for u, m in proposal.grants.items()},
            "assignments": undo["assignments"],
        },
        cohort=target.name,
        gates=gates,
        dry_run=dry_run,
        confirmed_without_dry_run=confirmed_without_dry_run,
    )
    return target


async def rollback(
    session: Session, actor: Actor, *, rollout: str, cohort: str | None = None
) -> RolloutCohort:
    """Reverse the last promoted cohort (or the named one, when no later cohort is promoted):
    restore its groups' rules, caps and default packages and its members' grants as they were,
    and cancel the assignments the promotion made. One audited action."""
    require(actor, Permission.POLICY_WRITE)
    detail = await get_rollout(session, actor, rollout=rollout)
    target = find_cohort(detail, cohort, for_rollback=True)
    if target.status != CohortStatus.PROMOTED or target.undo is None:
        raise CohortOrderError(f"Cohort '{target.name}' is not promoted.", cohort=target.name)
    later = [
        c.name
        for c in detail.cohorts
        if c.position > target.position and c.status == CohortStatus.PROMOTED
    ]
    if later:
        raise CohortOrderError(
            f"Roll back {', '.join(reversed(later))} first; rollbacks go in reverse order.",
            cohort=target.name,
        )
    undo = target.undo
    names = await repository.group_names(session, [uuid.UUID(g) for g in undo["groups"]])
    for gid_text, before in undo["groups"].items():
        gid = uuid.UUID(gid_text)
        rules = rules_from(before)
        await policy_service.apply_group_rules(session, actor, group_id=gid, rules=rules)
        current = (await repository.group_policies(session, [gid])).get(gid, GroupRules())
        if current.default_package != rules.default_package and gid in names:
            await packages_service.set_group_default_package(
                session, actor, group=names[gid], package=rules.default_package
            )
    for user_text, models in undo["grants"].items():
        await policy_service.set_member_grant(session, user_id=uuid.UUID(user_text), models=models)
    cancelled = []
    for assignment_text in undo["assignments"]:
        assignment = await session.get(PackageAssignment, uuid.UUID(assignment_text))
        if assignment is not None and assignment.status == AssignmentStatus.ACTIVE:
            await packages_service.cancel_assignment(
                session,
                actor,
                assignment_id=assignment.id,
                when="now",
                reason=f"rollback of rollout {detail.rollout.name}, cohort {target.name}",
            )
            cancelled.append(assignment_text)
    target.status = CohortStatus.ROLLED_BACK
    target.rolled_back_at = utc_now()
    detail.rollout.status = RolloutStatus.ACTIVE
    await session.flush()
    await audit_service.record(
        session,
        actor,
        "rollouts.rollback",
        target_type="rollout",
        target_id=detail.rollout.id,
        target_label=f"{detail.rollout.name} / {target.name}",
        before={"cohort": target.name, "status": CohortStatus.PROMOTED},
        after={"groups": undo["groups"], "grants": undo["grants"], "cancelled": cancelled},
        cohort=target.name,
    )
    return target


async def rollout_metrics(
    session: AnySession, actor: Actor, *, rollout: str, days: int = 7
) -> dict[str, Any]:
    """Per cohort: members, active members, requests, spend against the caps, refusal and error
    rates, clients in use; for a promoted cohort, before and after its promotion (`days` each
    side, the after side up to now), from the usage records."""
    detail = await get_rollout(session, actor, rollout=rollout)
    now = utc_now()
    out = []
    for cohort in detail.cohorts:
        group_ids, in_groups, named = await cohort_targets(session, cohort)
        members = [u.id for u in in_groups + named]
        rules = await repository.group_policies(session, group_ids)
        caps = [r.monthly_cap_micros for r in rules.values() if r.monthly_cap_micros is not None]
        row: dict[str, Any] = {
            **cohort_view(cohort),
            "members": len(members),
            "group_caps_micros": sum(caps) if caps else None,
            "group_caps": format_amount(sum(caps)) if caps else None,
        }
        if cohort.promoted_at is not None:
            start = cohort.promoted_at
            end = cohort.rolled_back_at or now
            row["before"] = await _window(session, members, start - timedelta(days=days), start)
            row["after"] = await _window(session, members, start, end)
        else:
            row["before"] = await _window(session, members, now - timedelta(days=days), now)
            row["after"] = None
        out.append(row)
    return {"rollout": rollout_view(detail.rollout), "days": days, "cohorts": out}


async def _counts(
    session: AnySession, user_ids: list[uuid.UUID], since: datetime, until: datetime
) -> dict[str, int]:
    if not user_ids:
        return {"requests": 0, "refused": 0, "errors": 0, "active": 0, "spend": 0}
    stmt = select(
        func.count(),
        func.sum(_case("refused")),
        func.sum(_case("error")),
        func.count(func.distinct(UsageRecord.user_id)),
        func.sum(UsageRecord.cost_micros),
    ).where(
        UsageRecord.user_id.in_(user_ids),
        UsageRecord.created_at >= since,
        UsageRecord.created_at < until,
    )
    requests, refused, errors, active, spend = (await session.execute(stmt)).one()
    return {
        "requests": int(requests or 0),
        "refused": int(refused or 0),
        "errors": int(errors or 0),
        "active": int(active or 0),
        "spend": int(spend or 0),
    }


def _case(status: str) -> Any:
    return case((UsageRecord.status == status, 1), else_=0)


async def _window(
    session: AnySession, user_ids: list[uuid.UUID], since: datetime, until: datetime
) -> dict[str, Any]:
    totals = await _counts(session, user_ids, since, until)
    clients: dict[str, int] = {}
    if user_ids:
        stmt = (
            select(UsageRecord.client_family, func.count())
            .where(
                UsageRecord.user_id.in_(user_ids),
                UsageRecord.created_at >= since,
                UsageRecord.created_at < until,
            )
            .group_by(UsageRecord.client_family)
        )
        clients = {c: int(n) for c, n in (await session.execute(stmt)).all()}
    requests = totals["requests"]
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "active_members": totals["active"],
        "requests": requests,
        "refused": totals["refused"],
        "errors": totals["errors"],
        "refusal_rate": _pct(totals["refused"], requests),
        "error_rate": _pct(totals["errors"], requests),
        "spend": format_amount(totals["spend"]),
        "spend_micros": totals["spend"],
        "clients": dict(sorted(clients.items(), key=lambda kv: (-kv[1], kv[0]))),
    }


def _pct(part: int, whole: int) -> str:
    if not whole:
        return "0.00"
    return f"{part * 100 / whole:.2f}"


def rules_json(rules: GroupRules) -> dict[str, Any]:
    data = asdict(rules)
    for name in ("allowed_models", "denied_models", "allowed_clients"):
        data[name] = list(data[name])
    return data


def rules_from(data: dict[str, Any]) -> GroupRules:
    values = dict(data)
    for name in ("allowed_models", "denied_models", "allowed_clients"):
        values[name] = tuple(values.get(name) or ())
    return GroupRules(**values)


def cohort_view(cohort: RolloutCohort) -> dict[str, Any]:
    def money(name: str, micros: int | None) -> dict[str, Any]:
        return {name: None if micros is None else format_amount(micros), f"{name}_micros": micros}

    return {
        "id": str(cohort.id),
        "position": cohort.position,
        "name": cohort.name,
        "user_ids": list(cohort.user_ids),
        "group_ids": list(cohort.group_ids),
        "everyone": cohort.everyone,
        "models": list(cohort.models),
        "package": cohort.package,
        **money("monthly_cap", cohort.monthly_cap_micros),
        **money("member_monthly_cap", cohort.member_monthly_cap_micros),
        "status": cohort.status,
        "promoted_at": cohort.promoted_at.isoformat() if cohort.promoted_at else None,
        "rolled_back_at": cohort.rolled_back_at.isoformat() if cohort.rolled_back_at else None,
    }


def rollout_view(rollout: Rollout) -> dict[str, Any]:
    def pct(bp: int | None) -> str | None:
        return None if bp is None else f"{bp / 100:.2f}"

    return {
        "id": str(rollout.id),
        "name": rollout.name,
        "goal": rollout.goal,
        "status": rollout.status,
        "min_days": rollout.min_days,
        "max_error_rate": pct(rollout.max_error_rate_bp),
        "max_refusal_rate": pct(rollout.max_refusal_rate_bp),
        "created_at": rollout.created_at.isoformat(),
        "created_by": rollout.created_by,
    }


def detail_view(detail: RolloutDetail) -> dict[str, Any]:
    return {**rollout_view(detail.rollout), "cohorts": [cohort_view(c) for c in detail.cohorts]}
