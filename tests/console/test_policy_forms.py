"""Creating rollouts and policy drafts in the console, and the group policy page: each form goes
through the same service as the API (audited), shows a refusal next to its field, needs the CSRF
token, and is refused to roles without policy.write."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from tests.factories import make_group

from spectra.audit.actor import local_actor
from spectra.audit.models import AuditEvent
from spectra.db.session import session_scope
from spectra.policy import rollouts as rollouts_service
from spectra.policy.models import PolicyDraft, Rollout, RolloutCohort
from spectra.policy.schemas import RolloutCreate
from spectra.runtime import Runtime

ROLLOUT = {
    "name": "claude-for-all",
    "goal": "Opus for everyone",
    "min_days": "2",
    "max_error_rate": "5",
    "cohort0_name": "pilot",
    "cohort0_groups": "Platform",
    "cohort0_models": "claude-opus-*",
    "cohort0_monthly_cap": "500",
    "cohort1_name": "everyone",
    "cohort1_everyone": "on",
}


async def _groups(runtime: Runtime, *names: str) -> None:
    async with session_scope(runtime.db) as session:
        for name in names:
            await make_group(session, name=name)


async def _count(runtime: Runtime, model: Any) -> int:
    async with session_scope(runtime.db) as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def _rollout(runtime: Runtime) -> None:
    async with session_scope(runtime.db) as session:
        data = RolloutCreate.model_validate(
            {"name": "opus", "cohorts": [{"name": "wave-1", "groups": ["Platform"]}]}
        )
        await rollouts_service.create_rollout(session, local_actor(), data=data)


class TestCreateRollout:
    async def test_creates_the_rollout_with_its_cohorts_in_order(
        self, browser: Any, runtime: Runtime
    ) -> None:
        await _groups(runtime, "Platform")
        b = await browser(role="admin")
        form = await b.get("/console/rollouts-new")
        assert form.status_code == 200
        assert 'id="create-rollout-form"' in form.text
        assert 'for="f-cohort0_name"' in form.text

        response = await b.post_form("/console/rollouts", ROLLOUT)
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/console/rollouts/claude-for-all"
        async with session_scope(runtime.db) as session:
            rollout = (await session.execute(select(Rollout))).scalar_one()
            cohorts = (
                (await session.execute(select(RolloutCohort).order_by(RolloutCohort.position)))
                .scalars()
                .all()
            )
            events = (
                await session.execute(
                    select(AuditEvent.action).where(AuditEvent.target_label == "claude-for-all")
                )
            ).scalars()
            assert list(events) == ["rollouts.create"]
        assert (rollout.min_days, rollout.max_error_rate_bp) == (2, 500)
        assert [(c.name, c.everyone, c.models) for c in cohorts] == [
            ("pilot", False, ["claude-opus-*"]),
            ("everyone", True, []),
        ]
        assert cohorts[0].monthly_cap_micros == 500_000_000
        page = await b.get(response.headers["location"])
        assert 'data-cohort-name="pilot"' in page.text

    async def test_a_cohort_that_names_nobody_is_shown_on_the_form(
        self, browser: Any, runtime: Runtime
    ) -> None:
        b = await browser(role="admin")
        response = await b.post_form(
            "/console/rollouts", {"name": "empty", "cohort0_name": "pilot"}
        )
        assert response.status_code == 422
        assert 'id="e-form"' in response.text
        assert "Cohort &#39;pilot&#39; names nobody" in response.text
        assert 'value="empty"' in response.text  # what was typed stays
        assert await _count(runtime, Rollout) == 0

    async def test_a_bad_field_is_named_next_to_it(self, browser: Any, runtime: Runtime) -> None:
        await _groups(runtime, "Platform")
        b = await browser(role="admin")
        for field, value in (("max_error_rate", "250"), ("cohort1_member_cap", "-3")):
            response = await b.post_form("/console/rollouts", {**ROLLOUT, field: value})
            assert response.status_code == 422
            assert f'id="e-{field}"' in response.text, (field, response.text)
        assert await _count(runtime, Rollout) == 0

    async def test_a_missing_cohort_name_is_shown_next_to_the_cohort(
        self, browser: Any, runtime: Runtime
    ) -> None:
        await _groups(runtime, "Platform")
        b = await browser(role="admin")
        response = await b.post_form(
            "/console/rollouts", {"name": "x", "cohort1_groups": "Platform"}
        )
        assert response.status_code == 422
        assert 'id="e-cohort1_name"' in response.text

    async def test_a_taken_name_is_shown_next_to_the_name(
        self, browser: Any, runtime: Runtime
    ) -> None:
        await _groups(runtime, "Platform")
        await _rollout(runtime)
        b = await browser(role="admin")
        response = await b.post_form("/console/rollouts", {**ROLLOUT, "name": "opus"})
        assert response.status_code == 422
        assert 'id="e-name"' in response.text
        assert "A rollout named &#39;opus&#39; exists." in response.text

    async def test_needs_the_csrf_token(self, browser: Any, runtime: Runtime) -> None:
        await _groups(runtime, "Platform")
        b = await browser(role="admin")
        response = await b.post_form("/console/rollouts", ROLLOUT, csrf=False)
        assert response.status_code == 403
        assert await _count(runtime, Rollout) == 0

    async def test_an_auditor_or_a_member_cannot(self, browser: Any, runtime: Runtime) -> None:
        await _groups(runtime, "Platform")
        auditor = await browser(role="auditor")
        form = await auditor.get("/console/rollouts-new")
        assert 'id="create-rollout-form"' not in form.text
        refused = await auditor.post_form("/console/rollouts", ROLLOUT)
        assert refused.status_code == 303
        member = await browser(role="member")
        assert (await member.get("/console/rollouts-new")).status_code == 403
        assert (await member.post_form("/console/rollouts", ROLLOUT)).status_code == 303
        assert await _count(runtime, Rollout) == 0


class TestGroupPolicy:
    async def test_the_page_shows_the_whole_policy(self, browser: Any, runtime: Runtime) -> None:
        await _groups(runtime, "Platform")
        b = await browser(role="auditor")
        page = await b.get("/console/groups/Platform/policy")
        assert page.status_code == 200, page.text
        assert 'id="group-policy"' in page.text
        assert 'id="policy-allowed_clients">any client' in page.text
        assert 'id="group-policy-form"' not in page.text  # an auditor reads, never drafts

    async def test_saving_drafts_only_the_changed_fields(
        self, browser: Any, runtime: Runtime
    ) -> None:
        await _groups(runtime, "Platform")
        b = await browser(role="admin")
        response = await b.post_form(
            "/console/policy/drafts",
            {
                "group": "Platform",
                "allowed_models": "claude-*, gpt-5*",
                "denied_models": "",
                "allowed_clients": ["claude_code", "codex_cli"],
                "rpm": "60",
                "tpm": "",
                "max_concurrent": "",
                "monthly_cap": "300",
                "member_monthly_cap": "",
                "wallet_fallback": "on",
                "group_wallet_fallback": "on",
            },
        )
        assert response.status_code == 303, response.text
        async with session_scope(runtime.db) as session:
            draft = (await session.execute(select(PolicyDraft))).scalar_one()
        assert response.headers["location"] == f"/console/policy/drafts/{draft.id}"
        assert draft.target_label == "Platform"
        assert draft.changes == {
            "allowed_models": ["claude-*", "gpt-5*"],
            "allowed_clients": ["claude_code", "codex_cli"],
            "rpm": 60,
            "monthly_cap": 300_000_000,
        }
        published = await b.post_form(
            f"/console/policy/drafts/{draft.id}/publish", {"confirm_without_dry_run": "on"}
        )
        assert published.status_code == 303
        page = await b.get("/console/groups/Platform/policy")
        assert 'id="policy-rpm">60' in page.text
        assert 'id="policy-allowed_clients">claude_code, codex_cli' in page.text

    async def test_no_change_is_refused_on_the_form(self, browser: Any, runtime: Runtime) -> None:
        await _groups(runtime, "Platform")
        b = await browser(role="admin")
        response = await b.post_form(
            "/console/policy/drafts",
            {"group": "Platform", "wallet_fallback": "on", "group_wallet_fallback": "on"},
        )
        assert response.status_code == 422
        assert "The draft changes nothing" in response.text
        assert await _count(runtime, PolicyDraft) == 0

    async def test_a_bad_limit_is_shown_next_to_it(self, browser: Any, runtime: Runtime) -> None:
        await _groups(runtime, "Platform")
        b = await browser(role="admin")
        for field, value in (("rpm", "0"), ("tpm", "many"), ("monthly_cap", "-5")):
            response = await b.post_form(
                "/console/policy/drafts",
                {"group": "Platform", field: value, "wallet_fallback": "on"},
            )
            assert response.status_code == 422, field
            assert f'id="e-{field}"' in response.text, (field, response.text)
        assert await _count(runtime, PolicyDraft) == 0

    async def test_needs_the_csrf_token(self, browser: Any, runtime: Runtime) -> None:
        await _groups(runtime, "Platform")
        b = await browser(role="admin")
        response = await b.post_form(
            "/console/policy/drafts", {"group": "Platform", "rpm": "5"}, csrf=False
        )
        assert response.status_code == 403
        assert await _count(runtime, PolicyDraft) == 0

    async def test_an_auditor_or_a_member_cannot(self, browser: Any, runtime: Runtime) -> None:
        await _groups(runtime, "Platform")
        auditor = await browser(role="auditor")
        refused = await auditor.post_form(
            "/console/policy/drafts", {"group": "Platform", "rpm": "5"}
        )
        assert refused.status_code == 303
        member = await browser(role="member")
        assert (await member.get("/console/groups/Platform/policy")).status_code == 403
        refused = await member.post_form(
            "/console/policy/drafts", {"group": "Platform", "rpm": "5"}
        )
        assert refused.status_code == 303  # back, with the refusal as a flash message
        assert await _count(runtime, PolicyDraft) == 0


class TestDraftPromotion:
    async def test_drafts_the_next_cohort(self, browser: Any, runtime: Runtime) -> None:
        await _groups(runtime, "Platform")
        await _rollout(runtime)
        b = await browser(role="admin")
        listing = await b.get("/console/policy/drafts")
        assert 'id="create-draft-form"' in listing.text
        response = await b.post_form("/console/policy/drafts", {"rollout": "opus"})
        assert response.status_code == 303, response.text
        async with session_scope(runtime.db) as session:
            draft = (await session.execute(select(PolicyDraft))).scalar_one()
            events = (
                await session.execute(
                    select(AuditEvent.action).where(AuditEvent.target_id == str(draft.id))
                )
            ).scalars()
            assert list(events) == ["policy.draft"]
        assert (draft.kind, draft.target_label) == ("promotion", "opus / wave-1")

    async def test_an_unknown_cohort_is_shown_next_to_it(
        self, browser: Any, runtime: Runtime
    ) -> None:
        await _groups(runtime, "Platform")
        await _rollout(runtime)
        b = await browser(role="admin")
        response = await b.post_form("/console/policy/drafts", {"rollout": "opus", "cohort": "x"})
        assert response.status_code == 422
        assert 'id="e-cohort"' in response.text
        assert await _count(runtime, PolicyDraft) == 0

    async def test_an_unknown_rollout_is_shown_next_to_it(
        self, browser: Any, runtime: Runtime
    ) -> None:
        b = await browser(role="admin")
        response = await b.post_form("/console/policy/drafts", {"rollout": "nope"})
        assert response.status_code == 422
        assert 'id="e-rollout"' in response.text

    async def test_needs_the_csrf_token(self, browser: Any, runtime: Runtime) -> None:
        await _groups(runtime, "Platform")
        await _rollout(runtime)
        b = await browser(role="admin")
        response = await b.post_form("/console/policy/drafts", {"rollout": "opus"}, csrf=False)
        assert response.status_code == 403
        assert await _count(runtime, PolicyDraft) == 0


async def test_the_optional_cohorts_open_when_they_hold_an_error(
    browser: Any, runtime: Runtime
) -> None:
    b = await browser(role="admin")
    blank = await b.get("/console/rollouts-new")
    assert blank.text.count('<details class="more-cohort">') == 2
    response = await b.post_form("/console/rollouts", {"name": "x", "cohort2_groups": "Nope"})
    assert '<details class="more-cohort" open>' in response.text
    assert 'id="e-cohort2_name"' in response.text
