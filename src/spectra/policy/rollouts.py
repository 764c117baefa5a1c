"""Staged rollouts: cohorts (pilot -> wave 1 -> everyone) promoted in order behind gates.

Promoting a cohort is one audited action in one transaction: its groups' allowed models widen
by the cohort's models (and lose exactly those patterns from their denials), caps are set, the
package template becomes their default and is assigned to every member who lacks it, and members
named one by one get the models as a grant. What it changed, and the state before, is kept on the
cohort, so a rollback restores the groups' rules, defaults and grants exactly and cancels the
assignments the promotion made (their unused allowance expires, as any cancellation).

`from spectra.policy import rollouts as rollouts_service`. Who a cohort reaches is in
`rollout_cohorts`, its gates and health in `rollout_gates`, its JSON in `rollout_views`.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db.session import AnySession, Session
from spectra.kit.clock import utc_now
from spectra.kit.money import format_amount
from spectra.kit.pagination import Page
from spectra.packages import service as packages_service
from spectra.packages.models import AssignmentStatus, PackageAssignment
from spectra.users import service as users_service
from spectra.users.permissions import Permission, require

from . import repository, rollout_gates
from . import service as policy_service
from .errors import (
    CohortOrderError,
    PolicyChangeInvalidError,
    RolloutExistsError,
    RolloutNotFoundError,
)
from .models import CohortStatus, Rollout, RolloutCohort, RolloutStatus
from .repository import GroupRules
from .rollout_cohorts import USABLE, cohort_proposal, cohort_targets, find_cohort, widened
from .rollout_gates import check_gates
from .rollout_views import (
    RolloutDetail,
    cohort_view,
    detail_view,
    rollout_view,
    rules_from,
    rules_json,
)
from .schemas import RolloutCreate, rate_bp

__all__ = [
    "USABLE",
    "RolloutDetail",
    "check_gates",
    "cohort_proposal",
    "cohort_targets",
    "cohort_view",
    "create_rollout",
    "detail_view",
    "find_cohort",
    "get_rollout",
    "list_rollouts",
    "promote",
    "rollback",
    "rollout_metrics",
    "rollout_view",
    "rules_from",
    "rules_json",
    "widened",
]


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
        holdout_bp=rate_bp(data.holdout, "holdout") or 0,
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
        percent_bp = rate_bp(spec.percent, f"cohort '{spec.name}' percent")
        if percent_bp == 0:
            raise PolicyChangeInvalidError(f"Cohort '{spec.name}' percent must be above 0.")
        if percent_bp is None and (spec.exclude_users or spec.exclude_groups):
            raise PolicyChangeInvalidError(
                f"Cohort '{spec.name}' excludes members but takes whole groups; give it a "
                "percent (100 for all of them) to exclude members or groups."
            )
        if percent_bp is not None and users:
            raise PolicyChangeInvalidError(
                f"Cohort '{spec.name}' is a percentage of groups or everyone; name members "
                "in a cohort of their own."
            )
        excluded_users = await packages_service.resolve_users(
            session, actor, emails=spec.exclude_users
        )
        excluded_groups = [
            str((await users_service.get_group(session, actor, group=name)).id)
            for name in spec.exclude_groups
        ]
        cohort = RolloutCohort(
            rollout_id=rollout.id,
            position=position,
            name=spec.name,
            user_ids=[str(u.id) for u in users],
            group_ids=group_ids,
            everyone=spec.everyone,
            percent_bp=percent_bp,
            exclude_user_ids=[str(u.id) for u in excluded_users],
            exclude_group_ids=excluded_groups,
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
    await audit_service.record_on(
        session,
        actor,
        "rollouts.create",
        "rollout",
        rollout,
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
    return await repository.page_rollouts(session, limit=limit, cursor=cursor)


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
            row["before"] = await rollout_gates.window(
                session, members, start - timedelta(days=days), start
            )
            row["after"] = await rollout_gates.window(session, members, start, end)
        else:
            row["before"] = await rollout_gates.window(
                session, members, now - timedelta(days=days), now
            )
            row["after"] = None
        out.append(row)
    return {"rollout": rollout_view(detail.rollout), "days": days, "cohorts": out}
