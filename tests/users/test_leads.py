"""Team leads (service level): appointing them, their approval limit, their audit trail, and
several groups per user (memberships, keys bound to a group). The route-by-route matrix is in
tests/api/test_lead_matrix.py."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from tests.factories import make_group, make_user

from spectra.audit.actor import local_actor
from spectra.db.session import Session
from spectra.errors import SpectraError
from spectra.keys import repository as keys_repository
from spectra.keys import service as keys_service
from spectra.kit.money import parse_amount
from spectra.ledger import service as ledger_service
from spectra.users import service as users_service
from spectra.users.models import GroupMembership
from spectra.users.permissions import PermissionDeniedError
from spectra.users.scope import LeadLimitExceededError

from .factories import actor_for, last_audit


async def _team(session: Session, *, limit: str = "20", funds: str = "500") -> dict[str, Any]:
    """A group with a funded wallet, its lead (a member, with `limit`) and one member."""
    group = await make_group(session)
    lead = await users_service.create_user(
        session, local_actor(), email=f"lead-{group.name}@example.com", group=group.id
    )
    member = await users_service.create_user(
        session, local_actor(), email=f"dev-{group.name}@example.com", group=group.id
    )
    await users_service.set_lead(
        session,
        local_actor(),
        group=group.id,
        user=lead.id,
        approval_limit_micros=parse_amount(limit, allow_zero=True),
    )
    await ledger_service.recharge(
        session,
        local_actor(),
        group_id=group.id,
        amount=parse_amount(funds),
        memo="team budget",
        idempotency_key=f"fund:{group.id}",
    )
    return {"group": group, "lead": lead, "member": member}


async def _balance(session: Session, **owner: Any) -> int:
    wallet = await ledger_service.wallet_account(session, **owner)
    return await ledger_service.balance(session, wallet.id)


class TestSetLead:
    async def test_an_admin_appoints_a_member_of_the_group_and_it_is_audited(
        self, session: Session
    ) -> None:
        team = await _team(session, limit="35.50")
        (view,) = (
            await users_service.list_leads(session, local_actor(), group=team["group"].id)
        ).items
        assert (view.email, view.approval_limit_micros) == (team["lead"].email, 35_500_000)
        event = await last_audit(session, "groups.lead_set")
        assert event.after is not None
        assert event.after["approval_limit"] == "35.50"

    async def test_only_members_of_the_group_can_lead_it(self, session: Session) -> None:
        group, outsider = await make_group(session), await make_user(session)
        with pytest.raises(SpectraError) as refused:
            await users_service.set_lead(session, local_actor(), group=group.id, user=outsider.id)
        assert refused.value.code == "membership_not_found"

    async def test_a_lead_cannot_appoint_leads(self, session: Session) -> None:
        team = await _team(session)
        with pytest.raises(PermissionDeniedError):
            await users_service.set_lead(
                session,
                actor_for(team["lead"]),
                group=team["group"].id,
                user=team["member"].id,
                approval_limit_micros=10**12,
            )

    async def test_removing_a_lead_ends_their_scope(self, session: Session) -> None:
        team = await _team(session)
        lead = actor_for(team["lead"])
        assert (await users_service.get_user(session, lead, user=team["member"].email)).id == team[
            "member"
        ].id
        await users_service.remove_lead(
            session, local_actor(), group=team["group"].id, user=team["lead"].id
        )
        with pytest.raises(PermissionDeniedError):
            await users_service.get_user(session, lead, user=team["member"].email)
        assert (await last_audit(session, "groups.lead_remove")).before is not None


class TestApprovalLimit:
    async def _request(self, session: Session, member: Any, amount: str) -> Any:
        return await ledger_service.create_recharge_request(
            session, actor_for(member), amount=parse_amount(amount), reason="need more"
        )

    async def test_a_lead_approves_up_to_the_limit_from_the_group_wallet(
        self, session: Session
    ) -> None:
        team = await _team(session, limit="20")
        request = await self._request(session, team["member"], "20")
        approved = await ledger_service.approve_recharge_request(
            session, actor_for(team["lead"]), request_id=request.id
        )
        assert approved.status == "approved"
        assert await _balance(session, user_id=team["member"].id) == 20_000_000
        assert await _balance(session, group_id=team["group"].id) == 480_000_000
        event = await last_audit(session, "ledger.recharge_request.approve")
        assert (event.actor_label, event.actor_user_id) == (team["lead"].email, team["lead"].id)

    async def test_a_lead_approving_above_the_limit_is_refused_and_nothing_moves(
        self, session: Session
    ) -> None:
        team = await _team(session, limit="20")
        request = await self._request(session, team["member"], "20.000001")
        with pytest.raises(LeadLimitExceededError) as refused:
            await ledger_service.approve_recharge_request(
                session, actor_for(team["lead"]), request_id=request.id
            )
        assert refused.value.code == "lead_limit_exceeded"
        assert "20.00" in refused.value.message
        assert (
            await ledger_service.get_recharge_request(session, local_actor(), request_id=request.id)
        ).status == "pending"
        assert await _balance(session, user_id=team["member"].id) == 0
        assert await _balance(session, group_id=team["group"].id) == 500_000_000

    async def test_a_lead_with_no_limit_may_still_reject(self, session: Session) -> None:
        team = await _team(session, limit="0")
        request = await self._request(session, team["member"], "5")
        with pytest.raises(LeadLimitExceededError):
            await ledger_service.approve_recharge_request(
                session, actor_for(team["lead"]), request_id=request.id
            )
        rejected = await ledger_service.reject_recharge_request(
            session, actor_for(team["lead"]), request_id=request.id, note="next month"
        )
        assert rejected.status == "rejected"
        assert (await last_audit(session, "ledger.recharge_request.reject")).actor_label == team[
            "lead"
        ].email

    async def test_transfers_inside_the_group_are_bounded_by_the_limit(
        self, session: Session
    ) -> None:
        team = await _team(session, limit="20")
        lead = actor_for(team["lead"])
        move = {"from_group_id": team["group"].id, "to_user_id": team["member"].id}
        with pytest.raises(LeadLimitExceededError):
            await ledger_service.transfer(
                session, lead, **move, amount=parse_amount("25"), memo="x", idempotency_key="t1"
            )
        await ledger_service.transfer(
            session, lead, **move, amount=parse_amount("15"), memo="sprint", idempotency_key="t2"
        )
        assert await _balance(session, user_id=team["member"].id) == 15_000_000
        assert (await last_audit(session)).actor_label == team["lead"].email

    async def test_a_lead_moves_no_money_out_of_their_group(self, session: Session) -> None:
        team, other = await _team(session, limit="50"), await _team(session)
        with pytest.raises(PermissionDeniedError):
            await ledger_service.transfer(
                session,
                actor_for(team["lead"]),
                from_group_id=team["group"].id,
                to_user_id=other["member"].id,
                amount=parse_amount("1"),
                memo="leak",
                idempotency_key="t3",
            )

    async def test_a_lead_cannot_approve_their_own_request(self, session: Session) -> None:
        team = await _team(session, limit="50")
        request = await self._request(session, team["lead"], "5")
        with pytest.raises(PermissionDeniedError):
            await ledger_service.approve_recharge_request(
                session, actor_for(team["lead"]), request_id=request.id
            )


class TestLeadScope:
    async def test_a_lead_acts_on_members_only_never_on_staff(self, session: Session) -> None:
        team = await _team(session)
        admin = await make_user(session, role="admin", group_id=team["group"].id)
        lead = actor_for(team["lead"])
        with pytest.raises(PermissionDeniedError):
            await users_service.suspend_user(session, lead, user=admin.id, reason="no")
        suspended = await users_service.suspend_user(
            session, lead, user=team["member"].id, reason="left the project"
        )
        assert suspended.status == "suspended"
        event = await last_audit(session, "users.suspend")
        assert (event.actor_label, event.target_id) == (team["lead"].email, str(team["member"].id))

    async def test_a_leads_read_only_token_reads_the_team_and_changes_nothing(
        self, session: Session
    ) -> None:
        team = await _team(session)
        reader = actor_for(team["lead"], via="token", read_only=True)
        found = await users_service.get_user(session, reader, user=team["member"].email)
        assert found.id == team["member"].id
        with pytest.raises(SpectraError) as refused:
            await users_service.suspend_user(session, reader, user=found.id, reason="no")
        assert refused.value.code == "read_only_token"

    async def test_an_unknown_email_is_refused_like_another_groups_member(
        self, session: Session
    ) -> None:
        team, other = await _team(session), await _team(session)
        lead = actor_for(team["lead"])
        answers = []
        for email in (other["member"].email, "nobody-at-all@example.com"):
            with pytest.raises(PermissionDeniedError) as refused:
                await users_service.get_user(session, lead, user=email)
            answers.append((refused.value.code, refused.value.message))
        assert answers[0] == answers[1]

    async def test_a_lead_of_several_groups_names_the_group_of_a_new_member(
        self, session: Session
    ) -> None:
        team, second = await _team(session), await make_group(session)
        await users_service.add_membership(
            session, local_actor(), user=team["lead"].id, group=second.id
        )
        await users_service.set_lead(session, local_actor(), group=second.id, user=team["lead"].id)
        lead = actor_for(team["lead"])
        with pytest.raises(SpectraError) as refused:
            await users_service.create_user(session, lead, email="new-dev@example.com")
        assert refused.value.code == "group_required"
        made = await users_service.create_user(
            session, lead, email="new-dev@example.com", group=second.name
        )
        assert made.group_id == second.id
        with pytest.raises(PermissionDeniedError):
            await users_service.create_user(
                session, lead, email="boss@example.com", role="admin", group=second.name
            )

    async def test_lists_show_the_led_groups_members_only(self, session: Session) -> None:
        team, other = await _team(session), await _team(session)
        secondary = await make_user(session, email="also-here@example.com")
        await users_service.add_membership(
            session, local_actor(), user=secondary.id, group=team["group"].id
        )
        page = await users_service.list_users(session, actor_for(team["lead"]), limit=100)
        assert {u.email for u in page.items} == {
            team["lead"].email,
            team["member"].email,
            secondary.email,
        }
        groups = await users_service.list_groups(session, actor_for(team["lead"]))
        assert [g.id for g in groups.items] == [team["group"].id]
        assert other["member"].email not in {u.email for u in page.items}


class TestMemberships:
    async def test_creation_and_moves_keep_one_primary_membership(self, session: Session) -> None:
        first, second = await make_group(session), await make_group(session)
        user = await users_service.create_user(
            session, local_actor(), email="mover@example.com", group=first.id
        )
        await users_service.move_group(session, local_actor(), user=user.id, group=second.id)
        rows = (
            await session.execute(
                select(GroupMembership.group_id, GroupMembership.is_primary).where(
                    GroupMembership.user_id == user.id
                )
            )
        ).all()
        assert [tuple(r) for r in rows] == [(second.id, True)]

    async def test_secondary_groups_are_added_listed_and_removed(self, session: Session) -> None:
        home, project = await make_group(session), await make_group(session)
        user = await users_service.create_user(
            session, local_actor(), email="multi@example.com", group=home.id
        )
        await users_service.add_membership(session, local_actor(), user=user.id, group=project.id)
        listed = await users_service.list_memberships(session, local_actor(), user=user.id)
        assert [(m.group, m.is_primary) for m in listed.items] == [
            (home.name, True),
            (project.name, False),
        ]
        with pytest.raises(SpectraError) as refused:
            await users_service.remove_membership(
                session, local_actor(), user=user.id, group=home.id
            )
        assert refused.value.code == "primary_membership"
        await users_service.remove_membership(
            session, local_actor(), user=user.id, group=project.id
        )
        assert (await last_audit(session, "users.remove_group")).before == {"group": project.name}

    async def test_a_key_bound_to_a_group_is_attributed_there_until_the_user_leaves(
        self, session: Session
    ) -> None:
        home, project = await make_group(session), await make_group(session)
        user = await users_service.create_user(
            session, local_actor(), email="bound@example.com", group=home.id
        )
        with pytest.raises(SpectraError) as refused:
            await keys_service.create_key(
                session, local_actor(), user_id=user.id, group=project.name
            )
        assert refused.value.code == "membership_not_found"
        await users_service.add_membership(session, local_actor(), user=user.id, group=project.id)
        key, _ = await keys_service.create_key(
            session, local_actor(), user_id=user.id, group=project.name
        )
        plain, _ = await keys_service.create_key(session, local_actor(), user_id=user.id)

        async def groups() -> dict[Any, Any]:
            rows = await keys_repository.cache_rows(session, key_ids=[key.id, plain.id])
            return {row[0]: row[-1] for row in rows}

        assert await groups() == {key.id: project.id, plain.id: home.id}
        await users_service.remove_membership(
            session, local_actor(), user=user.id, group=project.id
        )
        assert await groups() == {key.id: home.id, plain.id: home.id}
