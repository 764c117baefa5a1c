"""Service tests for users: one class per service function."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from tests.factories import default_group, make_group, make_user

from spectra.audit.actor import local_actor
from spectra.db import events
from spectra.db.models import ChangeFeedEntry
from spectra.db.session import Session
from spectra.errors import SpectraError
from spectra.users import service as users_service
from spectra.users.events import UserJoinedGroup
from spectra.users.models import User, UserSession
from spectra.users.permissions import PermissionDeniedError, ReadOnlyTokenError

from .factories import actor_for, last_audit, make_owner


async def _changes(session: Session, kind: str) -> list[str | None]:
    rows = await session.execute(
        select(ChangeFeedEntry.entity_id).where(ChangeFeedEntry.kind == kind)
    )
    return list(rows.scalars())


class TestCreateUser:
    async def test_creates_an_active_member_in_the_default_group(self, session: Session) -> None:
        user = await users_service.create_user(
            session, local_actor(), email="Priya@Example.com", name="Priya"
        )
        assert (user.email, user.role, user.status, user.group.name) == (
            "priya@example.com",
            "member",
            "active",
            "default",
        )
        event = await last_audit(session, "users.create")
        assert event.target_id == str(user.id)
        assert event.after is not None
        assert event.after["email"] == "priya@example.com"
        assert event.actor_label.startswith("local:")

    async def test_puts_the_user_in_the_named_group(self, session: Session) -> None:
        await make_group(session, name="Platform")
        user = await users_service.create_user(
            session, local_actor(), email="a@example.com", group="platform"
        )
        assert user.group.name == "Platform"

    async def test_publishes_user_joined_group_in_the_same_transaction(
        self, session: Session
    ) -> None:
        seen: list[UserJoinedGroup] = []

        async def handler(_: object, event: UserJoinedGroup) -> None:
            seen.append(event)

        events.subscribe(UserJoinedGroup, handler)
        try:
            user = await users_service.create_user(session, local_actor(), email="j@example.com")
        finally:
            events._handlers[UserJoinedGroup].remove(handler)
        assert seen == [UserJoinedGroup(user_id=user.id, group_id=user.group_id)]

    async def test_refuses_a_duplicate_email_regardless_of_case(self, session: Session) -> None:
        await users_service.create_user(session, local_actor(), email="dup@example.com")
        with pytest.raises(SpectraError) as caught:
            await users_service.create_user(session, local_actor(), email="DUP@example.com")
        assert caught.value.code == "email_taken"

    async def test_refuses_an_unknown_role(self, session: Session) -> None:
        with pytest.raises(SpectraError) as caught:
            await users_service.create_user(
                session, local_actor(), email="r@example.com", role="wizard"
            )
        assert caught.value.code == "unknown_role"

    async def test_refuses_an_unknown_group_and_writes_nothing(self, session: Session) -> None:
        with pytest.raises(SpectraError) as caught:
            await users_service.create_user(
                session, local_actor(), email="g@example.com", group="nope"
            )
        assert caught.value.code == "group_not_found"
        assert (
            await session.execute(select(User).where(User.email == "g@example.com"))
        ).first() is None

    @pytest.mark.parametrize(
        ("email", "code"),
        [("not-an-email", "invalid_email"), ("a" * 320 + "@x.com", "field_too_long")],
    )
    async def test_refuses_bad_emails(self, session: Session, email: str, code: str) -> None:
        with pytest.raises(SpectraError) as caught:
            await users_service.create_user(session, local_actor(), email=email)
        assert caught.value.code == code

    async def test_refuses_an_oversize_name(self, session: Session) -> None:
        with pytest.raises(SpectraError) as caught:
            await users_service.create_user(
                session, local_actor(), email="n@example.com", name="x" * 201
            )
        assert caught.value.code == "field_too_long"

    async def test_an_admin_cannot_hand_out_roles(self, session: Session) -> None:
        admin = await make_user(session, role="admin")
        with pytest.raises(PermissionDeniedError):
            await users_service.create_user(
                session, actor_for(admin), email="boss@example.com", role="owner"
            )

    async def test_a_member_cannot_create_users(self, session: Session) -> None:
        member = await make_user(session)
        with pytest.raises(PermissionDeniedError):
            await users_service.create_user(session, actor_for(member), email="x@example.com")

    async def test_a_read_only_token_cannot_create_users(self, session: Session) -> None:
        owner = await make_owner(session)
        with pytest.raises(ReadOnlyTokenError):
            await users_service.create_user(
                session, actor_for(owner, read_only=True), email="x@example.com"
            )


class TestInviteUser:
    async def test_creates_an_invited_user_with_a_one_time_link(self, session: Session) -> None:
        issued = await users_service.invite_user(session, local_actor(), email="new@example.com")
        assert issued.user.status == "invited"
        assert len(issued.token) >= 40
        event = await last_audit(session, "users.setup_link")
        assert issued.token not in str(event.after) + str(event.details)


class TestUpdateUser:
    async def test_changes_name_and_email_with_before_and_after(self, session: Session) -> None:
        user = await make_user(session, email="old@example.com", name="Old")
        await users_service.update_user(
            session, local_actor(), user=user.id, email="New@Example.com", name="New"
        )
        assert (user.email, user.name) == ("new@example.com", "New")
        event = await last_audit(session, "users.update")
        assert event.before is not None
        assert event.before["email"] == "old@example.com"
        assert event.after is not None
        assert event.after["email"] == "new@example.com"

    async def test_refuses_an_email_another_user_has(self, session: Session) -> None:
        await make_user(session, email="taken@example.com")
        user = await make_user(session)
        with pytest.raises(SpectraError) as caught:
            await users_service.update_user(
                session, local_actor(), user=user.email, email="TAKEN@example.com"
            )
        assert caught.value.code == "email_taken"

    async def test_an_admin_cannot_change_an_owner(self, session: Session) -> None:
        owner = await make_owner(session)
        admin = await make_user(session, role="admin")
        with pytest.raises(SpectraError) as caught:
            await users_service.update_user(session, actor_for(admin), user=owner.id, name="Pwned")
        assert caught.value.code == "rank_too_low"


class TestSuspendUser:
    async def test_suspends_ends_sessions_and_feeds_the_change(self, session: Session) -> None:
        user = await make_user(session, password_hash="x")
        opened = await users_service.create_session(session, user=user)
        await users_service.suspend_user(
            session, local_actor(), user=user.email, reason="left the team"
        )
        assert (user.status, user.status_reason) == ("suspended", "left the team")
        row = await session.get(UserSession, opened.row.id)
        assert row is not None
        assert row.ended_at is not None
        assert str(user.id) in await _changes(session, "users.status")
        event = await last_audit(session, "users.suspend")
        assert event.before is not None
        assert event.before["status"] == "active"
        assert event.after is not None
        assert event.after["status"] == "suspended"

    async def test_refuses_the_last_active_owner(self, session: Session) -> None:
        owner = await make_owner(session)
        with pytest.raises(SpectraError) as caught:
            await users_service.suspend_user(session, local_actor(), user=owner.id, reason="oops")
        assert caught.value.code == "last_owner"
        assert owner.status == "active"

    async def test_refuses_to_suspend_yourself(self, session: Session) -> None:
        admin = await make_user(session, role="admin")
        with pytest.raises(SpectraError) as caught:
            await users_service.suspend_user(session, actor_for(admin), user=admin.id, reason="x")
        assert caught.value.code == "self_action"

    async def test_needs_a_reason(self, session: Session) -> None:
        user = await make_user(session)
        with pytest.raises(SpectraError) as caught:
            await users_service.suspend_user(session, local_actor(), user=user.id, reason="  ")
        assert caught.value.code == "field_required"


class TestReactivateUser:
    async def test_reactivates_a_suspended_user(self, session: Session) -> None:
        user = await make_user(session, status="suspended", status_reason="x")
        await users_service.reactivate_user(session, local_actor(), user=user.id)
        assert (user.status, user.status_reason) == ("active", None)
        assert (await last_audit(session)).action == "users.reactivate"
        assert str(user.id) in await _changes(session, "users.status")

    async def test_refuses_an_active_user(self, session: Session) -> None:
        user = await make_user(session)
        with pytest.raises(SpectraError) as caught:
            await users_service.reactivate_user(session, local_actor(), user=user.id)
        assert caught.value.code == "user_status_conflict"


class TestRemoveUser:
    async def test_removes_softly(self, session: Session) -> None:
        user = await make_user(session)
        await users_service.remove_user(session, local_actor(), user=user.id, reason="left")
        found = await session.get(User, user.id)
        assert found is not None
        assert found.status == "removed"
        assert (await last_audit(session)).action == "users.remove"
        assert str(user.id) in await _changes(session, "users.status")

    async def test_refuses_the_last_active_owner(self, session: Session) -> None:
        owner = await make_owner(session)
        with pytest.raises(SpectraError) as caught:
            await users_service.remove_user(session, local_actor(), user=owner.email)
        assert caught.value.code == "last_owner"

    async def test_removes_an_owner_when_another_remains(self, session: Session) -> None:
        first = await make_owner(session)
        second = await make_owner(session)
        await users_service.remove_user(session, actor_for(first), user=second.id)
        assert second.status == "removed"


class TestChangeRole:
    async def test_an_owner_promotes_a_member(self, session: Session) -> None:
        owner = await make_owner(session)
        user = await make_user(session)
        await users_service.change_role(session, actor_for(owner), user=user.id, role="billing")
        assert user.role == "billing"
        event = await last_audit(session, "users.change_role")
        assert (event.before or {})["role"] == "member"
        assert (event.after or {})["role"] == "billing"
        assert str(user.id) in await _changes(session, "users.role")

    async def test_refuses_to_demote_the_last_owner(self, session: Session) -> None:
        owner = await make_owner(session)
        with pytest.raises(SpectraError) as caught:
            await users_service.change_role(session, actor_for(owner), user=owner.id, role="admin")
        assert caught.value.code == "last_owner"
        assert owner.role == "owner"

    async def test_an_admin_cannot_change_roles(self, session: Session) -> None:
        admin = await make_user(session, role="admin")
        user = await make_user(session)
        with pytest.raises(PermissionDeniedError):
            await users_service.change_role(session, actor_for(admin), user=user.id, role="admin")

    async def test_refuses_an_unknown_role(self, session: Session) -> None:
        user = await make_user(session)
        with pytest.raises(SpectraError) as caught:
            await users_service.change_role(session, local_actor(), user=user.id, role="king")
        assert caught.value.code == "unknown_role"


class TestMoveGroup:
    async def test_moves_and_publishes_user_joined_group(self, session: Session) -> None:
        user = await make_user(session)
        mobile = await make_group(session, name="Mobile")
        seen: list[UserJoinedGroup] = []

        async def handler(_: object, event: UserJoinedGroup) -> None:
            seen.append(event)

        events.subscribe(UserJoinedGroup, handler)
        try:
            await users_service.move_group(session, local_actor(), user=user.email, group="mobile")
        finally:
            events._handlers[UserJoinedGroup].remove(handler)
        assert user.group_id == mobile.id
        assert seen == [UserJoinedGroup(user_id=user.id, group_id=mobile.id)]
        event = await last_audit(session, "users.move_group")
        assert (event.after or {})["group"] == "Mobile"


class TestListUsers:
    async def test_filters_by_status_role_group_and_text(self, session: Session) -> None:
        team = await make_group(session, name="Team-List")
        a = await make_user(session, email="alice-list@example.com", name="Alice", group=team)
        await make_user(session, email="bob-list@example.com", name="Bob", role="admin", group=team)
        await make_user(session, email="carol-list@example.com", status="suspended", group=team)
        page = await users_service.list_users(
            session, local_actor(), group="team-list", role="member", status="active"
        )
        assert [u.id for u in page.items] == [a.id]
        page = await users_service.list_users(session, local_actor(), text="BOB-")
        assert [u.email for u in page.items] == ["bob-list@example.com"]

    async def test_pages_with_a_cursor(self, session: Session) -> None:
        team = await make_group(session, name="Team-Pages")
        made = [await make_user(session, group=team) for _ in range(5)]
        first = await users_service.list_users(session, local_actor(), group=team.id, limit=2)
        second = await users_service.list_users(
            session, local_actor(), group=team.id, limit=2, cursor=first.next_cursor
        )
        third = await users_service.list_users(
            session, local_actor(), group=team.id, limit=2, cursor=second.next_cursor
        )
        seen = [u.id for page in (first, second, third) for u in page.items]
        assert sorted(seen) == sorted(u.id for u in made)
        assert third.next_cursor is None

    async def test_a_member_cannot_list_users(self, session: Session) -> None:
        member = await make_user(session)
        with pytest.raises(PermissionDeniedError):
            await users_service.list_users(session, actor_for(member))


class TestGetUser:
    async def test_a_member_reads_themselves(self, session: Session) -> None:
        member = await make_user(session)
        found = await users_service.get_user(session, actor_for(member), user=member.id)
        assert found.id == member.id

    async def test_a_member_cannot_read_others(self, session: Session) -> None:
        member = await make_user(session)
        other = await make_user(session)
        with pytest.raises(PermissionDeniedError):
            await users_service.get_user(session, actor_for(member), user=other.email)

    async def test_unknown_user_is_not_found(self, session: Session) -> None:
        with pytest.raises(SpectraError) as caught:
            await users_service.get_user(session, local_actor(), user="ghost@example.com")
        assert caught.value.code == "user_not_found"


class TestFindUserByEmail:
    async def test_finds_regardless_of_case_or_returns_none(self, session: Session) -> None:
        user = await make_user(session, email="case@example.com")
        assert (
            await users_service.find_user_by_email(session, local_actor(), email="CASE@example.com")
            is user
        )
        assert (
            await users_service.find_user_by_email(session, local_actor(), email="none@example.com")
            is None
        )


class TestDefaultGroup:
    async def test_create_user_makes_the_builtin_group_when_missing(self, session: Session) -> None:
        group = await default_group(session)
        user = await users_service.create_user(session, local_actor(), email="dg@example.com")
        assert user.group_id == group.id
