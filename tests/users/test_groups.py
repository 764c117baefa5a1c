"""Service tests for groups: one class per service function."""

from __future__ import annotations

import pytest
from tests.factories import make_group, make_user

from spectra.audit.actor import local_actor
from spectra.db.session import Session
from spectra.errors import SpectraError
from spectra.users import service as users_service
from spectra.users.permissions import PermissionDeniedError

from .factories import actor_for, last_audit


class TestCreateGroup:
    async def test_creates_with_budgets_and_audits(self, session: Session) -> None:
        group = await users_service.create_group(
            session,
            local_actor(),
            name="Platform",
            description="Backend",
            monthly_cap_micros=300_000_000,
            member_monthly_cap_micros=50_000_000,
        )
        assert (group.name_key, group.monthly_cap_micros, group.member_monthly_cap_micros) == (
            "platform",
            300_000_000,
            50_000_000,
        )
        event = await last_audit(session, "groups.create")
        assert (event.after or {})["monthly_cap_micros"] == 300_000_000

    async def test_refuses_a_name_taken_in_another_case(self, session: Session) -> None:
        await make_group(session, name="Mobile")
        with pytest.raises(SpectraError) as caught:
            await users_service.create_group(session, local_actor(), name="MOBILE")
        assert caught.value.code == "group_name_taken"

    async def test_refuses_an_oversize_name(self, session: Session) -> None:
        with pytest.raises(SpectraError) as caught:
            await users_service.create_group(session, local_actor(), name="g" * 101)
        assert caught.value.code == "field_too_long"

    async def test_billing_cannot_create_groups(self, session: Session) -> None:
        billing = await make_user(session, role="billing")
        with pytest.raises(PermissionDeniedError):
            await users_service.create_group(session, actor_for(billing), name="Nope")


class TestUpdateGroup:
    async def test_billing_sets_budgets_but_not_names(self, session: Session) -> None:
        group = await make_group(session, name="Budgeted")
        billing = await make_user(session, role="billing")
        await users_service.update_group(
            session, actor_for(billing), group=group.id, monthly_cap_micros=10_000_000
        )
        assert group.monthly_cap_micros == 10_000_000
        event = await last_audit(session, "groups.update")
        assert (
            (event.before or {})["monthly_cap_micros"],
            (event.after or {})["monthly_cap_micros"],
        ) == (None, 10_000_000)
        with pytest.raises(PermissionDeniedError):
            await users_service.update_group(
                session, actor_for(billing), group=group.id, name="Renamed"
            )

    async def test_none_removes_a_cap(self, session: Session) -> None:
        group = await make_group(session, name="Capped", monthly_cap_micros=5)
        await users_service.update_group(
            session, local_actor(), group="capped", monthly_cap_micros=None
        )
        assert group.monthly_cap_micros is None

    async def test_the_default_group_keeps_its_name(self, session: Session) -> None:
        group = await users_service.create_user(session, local_actor(), email="d@example.com")
        with pytest.raises(SpectraError) as caught:
            await users_service.update_group(
                session, local_actor(), group=group.group_id, name="Everyone"
            )
        assert caught.value.code == "group_builtin"

    async def test_refuses_a_negative_cap(self, session: Session) -> None:
        group = await make_group(session)
        with pytest.raises(SpectraError) as caught:
            await users_service.update_group(
                session, local_actor(), group=group.id, member_monthly_cap_micros=-1
            )
        assert caught.value.code == "invalid_amount"


class TestListGroups:
    async def test_lists_with_member_counts(self, session: Session) -> None:
        group = await make_group(session, name="Counted")
        await make_user(session, group=group)
        await make_user(session, group=group, status="removed")
        page = await users_service.list_groups(session, local_actor(), text="counted")
        assert [g.id for g in page.items] == [group.id]
        assert page.extra["member_counts"][group.id] == 1


class TestGetGroup:
    async def test_a_member_reads_their_own_group_only(self, session: Session) -> None:
        mine = await make_group(session)
        other = await make_group(session)
        member = await make_user(session, group=mine)
        assert (
            await users_service.get_group(session, actor_for(member), group=mine.name)
        ).id == mine.id
        with pytest.raises(PermissionDeniedError):
            await users_service.get_group(session, actor_for(member), group=other.id)

    async def test_unknown_group_is_not_found(self, session: Session) -> None:
        with pytest.raises(SpectraError) as caught:
            await users_service.get_group(session, local_actor(), group="ghosts")
        assert caught.value.code == "group_not_found"
