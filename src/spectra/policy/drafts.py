"""Draft -> dry-run -> publish for policy changes: a group's policy, or a rollout cohort's
promotion. A dry-run's result is stored on the draft; publishing records its summary in the
audit event, and publishing a draft that was never dry-run needs `confirm_without_dry_run`.

`from spectra.policy import drafts as drafts_service`.
"""

from __future__ import annotations

import uuid
from typing import Any

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db.session import AnySession, Session
from spectra.kit.clock import utc_now
from spectra.kit.listing import ListQuery
from spectra.kit.pagination import Page
from spectra.users import service as users_service
from spectra.users.permissions import Permission, require

from . import dryrun, repository
from . import rollouts as rollouts_service
from . import service as policy_service
from .errors import (
    DraftNotFoundError,
    DraftNotOpenError,
    DryRunRequiredError,
    DryRunStaleError,
    PolicyChangeInvalidError,
)
from .models import DraftStatus, PolicyDraft, RolloutCohort
from .repository import GroupRules
from .schemas import GroupPolicyChange

GROUP_POLICY = "group_policy"
PROMOTION = "promotion"
MAX_DAYS = 90


async def create_draft(
    session: Session,
    actor: Actor,
    *,
    group: str | uuid.UUID | None = None,
    change: GroupPolicyChange | None = None,
    rollout: str | None = None,
    cohort: str | None = None,
) -> PolicyDraft:
    """Draft a group policy change (`group` + `change`) or a cohort's promotion (`rollout`,
    `cohort` = the next one by default). Nothing changes until it is published. Audited."""
    require(actor, Permission.POLICY_WRITE)
    if (group is None) == (rollout is None):
        raise PolicyChangeInvalidError("Draft either a group's policy or a rollout's promotion.")
    if group is not None:
        if change is None or not change.model_fields_set:
            raise PolicyChangeInvalidError("The draft changes nothing; name what to change.")
        target = await users_service.get_group(session, actor, group=group)
        draft = PolicyDraft(
            kind=GROUP_POLICY,
            target_id=target.id,
            target_label=target.name,
            changes=change.stored(),
        )
    else:
        assert rollout is not None
        detail = await rollouts_service.get_rollout(session, actor, rollout=rollout)
        found = rollouts_service.find_cohort(detail, cohort)
        await rollouts_service.check_gates(session, detail, found)
        draft = PolicyDraft(
            kind=PROMOTION,
            target_id=found.id,
            target_label=f"{detail.rollout.name} / {found.name}",
            changes={},
        )
    draft.status = DraftStatus.DRAFT
    draft.created_by = actor.label
    draft.created_at = utc_now()
    session.add(draft)
    await session.flush()
    await audit_service.record(
        session,
        actor,
        "policy.draft",
        target_type="policy_draft",
        target_id=draft.id,
        target_label=draft.target_label,
        after={"kind": draft.kind, "changes": draft.changes},
    )
    return draft


async def get_draft(session: AnySession, actor: Actor, *, draft_id: uuid.UUID) -> PolicyDraft:
    require(actor, Permission.READ_ALL)
    draft = await repository.get_draft(session, draft_id)
    if draft is None:
        raise DraftNotFoundError(
            f"There is no policy draft {draft_id}; `spectra policy drafts` lists them.",
            draft_id=str(draft_id),
        )
    return draft


async def list_drafts(
    session: AnySession,
    actor: Actor,
    *,
    status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
    listing: ListQuery | None = None,
) -> Page[PolicyDraft]:
    """Drafts, newest first (or one offset page in `listing`'s sort and text filter)."""
    require(actor, Permission.READ_ALL)
    return await repository.page_drafts(
        session, status=status, limit=limit, cursor=cursor, listing=listing
    )


async def _open(session: AnySession, actor: Actor, draft_id: uuid.UUID) -> PolicyDraft:
    draft = await get_draft(session, actor, draft_id=draft_id)
    if draft.status != DraftStatus.DRAFT:
        raise DraftNotOpenError(f"This draft is already {draft.status}.", status=draft.status)
    return draft


async def _group_proposal(
    session: AnySession, draft: PolicyDraft
) -> tuple[dryrun.Proposal, GroupRules, GroupRules]:
    current = (await repository.group_policies(session, [draft.target_id])).get(
        draft.target_id, GroupRules()
    )
    after = policy_service.rules_after(current, GroupPolicyChange.from_stored(draft.changes))
    users = [
        u
        for u in await repository.users_in(session, group_ids=[draft.target_id])
        if u.status in rollouts_service.USABLE
    ]
    change = GroupPolicyChange.from_stored(draft.changes)
    extra = tuple((change.allowed_models or []) + (change.denied_models or []))
    proposal = dryrun.Proposal(users=users, rules={draft.target_id: after}, extra_models=extra)
    return proposal, current, after


async def _cohort(session: AnySession, draft: PolicyDraft) -> RolloutCohort:
    cohort = await repository.get_cohort(session, draft.target_id)
    if cohort is None:
        raise DraftNotOpenError("The cohort of this draft no longer exists.")
    return cohort


async def dry_run(
    session: Session, actor: Actor, *, draft_id: uuid.UUID, days: int = 7
) -> PolicyDraft:
    """Evaluate the draft against the recorded requests of the last `days` days and the current
    entitlements (see dryrun.py) and store the result on the draft. Audited (summary only)."""
    require(actor, Permission.POLICY_WRITE)
    if not 1 <= days <= MAX_DAYS:
        raise PolicyChangeInvalidError(f"A dry-run looks back 1 to {MAX_DAYS} days.", days=days)
    draft = await _open(session, actor, draft_id)
    now = utc_now()
    if draft.kind == GROUP_POLICY:
        proposal, current, _ = await _group_proposal(session, draft)
        base: dict[str, Any] = rollouts_service.rules_json(current)
    else:
        cohort = await _cohort(session, draft)
        proposal = await rollouts_service.cohort_proposal(session, cohort)
        base = {"cohort_status": cohort.status}
    result = await dryrun.run(
        session,
        proposal,
        days=days,
        now=now,
        served=await policy_service.served_models(session),
        priced=await repository.priced_models(session),
    )
    result["base"] = base
    draft.dry_run = result
    draft.dry_run_at = now
    await session.flush()
    await audit_service.record(
        session,
        actor,
        "policy.dry_run",
        target_type="policy_draft",
        target_id=draft.id,
        target_label=draft.target_label,
        summary=dryrun.summary(result),
    )
    return draft


async def publish_draft(
    session: Session,
    actor: Actor,
    *,
    draft_id: uuid.UUID,
    confirm_without_dry_run: bool = False,
) -> PolicyDraft:
    """Apply the draft in one audited action whose event carries the dry-run summary. Without
    a dry-run (or when the policy changed since it ran) `confirm_without_dry_run` is required."""
    require(actor, Permission.POLICY_WRITE)
    draft = await _open(session, actor, draft_id)
    if draft.dry_run is None and not confirm_without_dry_run:
        raise DryRunRequiredError(
            "This draft was never dry-run; run `spectra policy dry-run` first, or publish with "
            "--yes-without-dry-run to confirm.",
            draft_id=str(draft.id),
        )
    summary = dryrun.summary(draft.dry_run) if draft.dry_run is not None else None
    if draft.kind == GROUP_POLICY:
        _, current, after = await _group_proposal(session, draft)
        if (
            draft.dry_run is not None
            and draft.dry_run.get("base") != rollouts_service.rules_json(current)
            and not confirm_without_dry_run
        ):
            raise DryRunStaleError(
                "The group's policy changed after this dry-run; dry-run again, or publish with "
                "--yes-without-dry-run to confirm.",
                draft_id=str(draft.id),
            )
        await policy_service.apply_group_rules(
            session, actor, group_id=draft.target_id, rules=after
        )
        await audit_service.record(
            session,
            actor,
            "policy.publish",
            target_type="group",
            target_id=draft.target_id,
            target_label=draft.target_label,
            before=rollouts_service.rules_json(current),
            after=rollouts_service.rules_json(after),
            draft_id=str(draft.id),
            dry_run=summary,
            confirmed_without_dry_run=draft.dry_run is None,
        )
    else:
        cohort = await _cohort(session, draft)
        detail = await repository.get_rollout(session, str(cohort.rollout_id))
        assert detail is not None
        await rollouts_service.promote(
            session,
            actor,
            rollout=str(detail.id),
            cohort=str(cohort.id),
            dry_run=summary,
            confirmed_without_dry_run=draft.dry_run is None,
        )
    draft.status = DraftStatus.PUBLISHED
    draft.published_at = utc_now()
    draft.published_by = actor.label
    await session.flush()
    return draft


async def discard_draft(session: Session, actor: Actor, *, draft_id: uuid.UUID) -> PolicyDraft:
    """Drop a draft without applying it. Audited."""
    require(actor, Permission.POLICY_WRITE)
    draft = await _open(session, actor, draft_id)
    draft.status = DraftStatus.DISCARDED
    await session.flush()
    await audit_service.record(
        session,
        actor,
        "policy.discard",
        target_type="policy_draft",
        target_id=draft.id,
        target_label=draft.target_label,
        before={"status": DraftStatus.DRAFT},
        after={"status": DraftStatus.DISCARDED},
    )
    return draft


async def latest_dry_run_draft(session: AnySession, cohort_id: uuid.UUID) -> PolicyDraft | None:
    """The newest open promotion draft of a cohort that has a dry-run."""
    for draft in await repository.open_drafts(session, kind=PROMOTION, target_id=cohort_id):
        if draft.dry_run is not None:
            return draft
    return None


async def promote_cohort(
    session: Session,
    actor: Actor,
    *,
    rollout: str,
    cohort: str | None = None,
    confirm_without_dry_run: bool = False,
) -> RolloutCohort:
    """Promote a cohort: publishes its latest dry-run promotion draft, or, when there is none,
    promotes directly if the caller confirms going without a dry-run."""
    require(actor, Permission.POLICY_WRITE)
    detail = await rollouts_service.get_rollout(session, actor, rollout=rollout)
    target = rollouts_service.find_cohort(detail, cohort)
    draft = await latest_dry_run_draft(session, target.id)
    if draft is not None:
        await publish_draft(session, actor, draft_id=draft.id)
        return target
    if not confirm_without_dry_run:
        raise DryRunRequiredError(
            f"Cohort '{target.name}' has no dry-run; run `spectra rollouts promote "
            f"{detail.rollout.name} --dry-run` first, or pass --yes-without-dry-run to confirm.",
            cohort=target.name,
        )
    return await rollouts_service.promote(
        session,
        actor,
        rollout=str(detail.rollout.id),
        cohort=str(target.id),
        confirmed_without_dry_run=True,
    )


def draft_view(draft: PolicyDraft, *, full: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(draft.id),
        "kind": draft.kind,
        "target_id": str(draft.target_id),
        "target": draft.target_label,
        "changes": draft.changes,
        "status": draft.status,
        "created_at": draft.created_at.isoformat(),
        "created_by": draft.created_by,
        "dry_run_at": draft.dry_run_at.isoformat() if draft.dry_run_at else None,
        "published_at": draft.published_at.isoformat() if draft.published_at else None,
        "published_by": draft.published_by,
    }
    if draft.dry_run is not None:
        data["dry_run"] = draft.dry_run if full else dryrun.summary(draft.dry_run)
    else:
        data["dry_run"] = None
    return data
