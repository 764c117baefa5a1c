"""Who a rollout cohort reaches and what promoting it would change: its groups' widened rules,
members' grants and package assignments (the dry-run's proposal; `promote` applies the same)."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import timedelta

from spectra.audit.actor import SYSTEM
from spectra.db.session import AnySession
from spectra.kit.clock import utc_now
from spectra.packages import service as packages_service
from spectra.users.models import User

from . import repository, rollout_percent
from .dryrun import PackageGain, Proposal
from .errors import CohortNotFoundError, CohortOrderError
from .models import CohortStatus, Rollout, RolloutCohort
from .repository import GroupRules
from .rollout_views import RolloutDetail

USABLE = ("active", "invited")


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
    """(group ids, members whose primary group is one of them, members reached one by one). A
    group's members include those in it as one of their other groups: group rules follow the
    primary group, so those members come back as named members (they get a grant). A
    percentage cohort widens no group: its sample of members comes back as named members."""
    if cohort.everyone:
        group_ids = await repository.all_group_ids(session)
    else:
        group_ids = [uuid.UUID(g) for g in cohort.group_ids]
    wanted = set(group_ids)
    members = [u for u in await repository.members_of(session, group_ids) if u.status in USABLE]
    in_groups = [u for u in members if u.group_id in wanted]
    also = [u for u in members if u.group_id not in wanted]
    if cohort.percent_bp is not None:
        rollout = await session.get(Rollout, cohort.rollout_id)
        excluded_groups = [uuid.UUID(x) for x in cohort.exclude_group_ids]
        excluded = {uuid.UUID(x) for x in cohort.exclude_user_ids}
        excluded.update(u.id for u in await repository.members_of(session, excluded_groups))
        picked = rollout_percent.sample(
            cohort.rollout_id,
            members,
            percent_bp=cohort.percent_bp,
            holdout_bp=rollout.holdout_bp if rollout is not None else 0,
            exclude_users=excluded,
            exclude_groups=set(excluded_groups),
        )
        chosen = set(picked.chosen)
        return [], [], [u for u in members if u.id in chosen]
    seen = {u.id for u in members}
    named = also + [
        u
        for u in await repository.users_in(
            session, user_ids=[uuid.UUID(x) for x in cohort.user_ids]
        )
        if u.group_id not in wanted and u.id not in seen and u.status in USABLE
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
