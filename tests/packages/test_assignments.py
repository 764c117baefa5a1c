"""Assignments: bulk and group with previews, version migration, CSV import, group defaults,
and the read models (entitlements, the member view)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from tests.factories import make_group, make_user

from spectra.audit.actor import Actor, ActorKind
from spectra.db import events
from spectra.db.session import Session
from spectra.kit import clock as clock_module
from spectra.ledger import service as ledger_service
from spectra.packages import service as packages_service
from spectra.packages.errors import AssignmentExistsError, AssignmentImportRejectedError
from spectra.packages.models import PackageAssignment
from spectra.packages.schemas import PackageUpdate
from spectra.users import service as users_service
from spectra.users.events import UserJoinedGroup
from spectra.users.permissions import PermissionDeniedError

from .factories import OWNER, UNIT, audit_actions, make_package, spend


async def _held(session: Session, user_id: uuid.UUID) -> list[PackageAssignment]:
    stmt = select(PackageAssignment).where(
        PackageAssignment.user_id == user_id, PackageAssignment.status == "active"
    )
    return list((await session.execute(stmt)).scalars().all())


class TestAssignPackage:
    async def test_same_package_twice_is_a_conflict(
        self, session: Session, clock: datetime
    ) -> None:
        detail = await make_package(session, name="Starter")
        user = await make_user(session)
        await packages_service.assign_package(session, OWNER, package="Starter", user_id=user.id)
        with pytest.raises(AssignmentExistsError):
            await packages_service.assign_package(
                session, OWNER, package="Starter", user_id=user.id
            )
        assert detail.package.name == "Starter"

    async def test_a_user_may_hold_several_packages(
        self, session: Session, clock: datetime
    ) -> None:
        await make_package(session, name="Starter")
        await make_package(session, name="Extra", allowance="5", period="weekly")
        user = await make_user(session)
        await packages_service.assign_package(session, OWNER, package="Starter", user_id=user.id)
        await packages_service.assign_package(session, OWNER, package="Extra", user_id=user.id)
        assert len(await _held(session, user.id)) == 2


class TestAssignGroup:
    async def test_preview_counts_and_changes_nothing(
        self, session: Session, clock: datetime
    ) -> None:
        await make_package(session, name="Power", allowance="100")
        group = await make_group(session, name="Platform")
        users = [await make_user(session, group=group) for _ in range(3)]
        await make_user(session, group=group, status="suspended")
        await packages_service.assign_package(session, OWNER, package="Power", user_id=users[0].id)
        preview = await packages_service.assign_group(
            session, OWNER, package="Power", group="platform", preview=True
        )
        assert (preview.count("gain"), preview.count("unchanged"), preview.count("lose")) == (
            2,
            1,
            0,
        )
        assert preview.allowance_delta_micros == 200 * UNIT
        assert not preview.applied
        assert await _held(session, users[1].id) == []

    async def test_apply_assigns_current_members_with_progress(
        self, session: Session, clock: datetime
    ) -> None:
        await make_package(session, name="Power", allowance="100")
        group = await make_group(session, name="Platform")
        users = [await make_user(session, group=group) for _ in range(3)]
        ticks: list[tuple[int, int]] = []
        result = await packages_service.assign_group(
            session,
            OWNER,
            package="Power",
            group="Platform",
            progress=lambda d, t: ticks.append((d, t)),
        )
        assert result.applied
        assert result.count("gain") == 3
        assert ticks == [(1, 3), (2, 3), (3, 3)]
        for user in users:
            (a,) = await _held(session, user.id)
            assert await ledger_service.balance(session, a.allowance_account_id) == 100 * UNIT
        (summary,) = await audit_actions(session, "packages.assign_bulk")
        assert summary.details is not None
        assert summary.details["gained"] == 3
        assert len(await audit_actions(session, "packages.assign")) == 3


class TestMigrateAssignments:
    async def test_preview_then_migrate_changes_the_next_grant(
        self, session: Session, clock: datetime
    ) -> None:
        await make_package(session, name="Starter", allowance="20")
        users = [await make_user(session) for _ in range(2)]
        for user in users:
            await packages_service.assign_package(
                session, OWNER, package="Starter", user_id=user.id
            )
        await packages_service.edit_package(
            session,
            OWNER,
            name="Starter",
            data=PackageUpdate.model_validate({"allowance": "30", "model_patterns": ["claude-*"]}),
        )
        preview = await packages_service.preview_migration(session, OWNER, package="Starter")
        assert (preview.count("change"), preview.allowance_delta_micros) == (2, 20 * UNIT)
        assert "models +claude-*" in preview.rows[0].note
        done = await packages_service.migrate_assignments(
            session, OWNER, package="Starter", reason="Q1 terms"
        )
        assert done.applied
        (a, _) = [x for u in users for x in await _held(session, u.id)]
        ents = await packages_service.entitlements_for_users(session, [a.user_id])
        assert ents[0].version == 2
        assert ents[0].allows_model("claude-opus-4")
        assert await ledger_service.balance(session, a.allowance_account_id) == 20 * UNIT
        clock_module.advance(timedelta(days=30))
        await packages_service.renew_assignment(session, assignment_id=a.id)
        assert await ledger_service.balance(session, a.allowance_account_id) == 30 * UNIT
        events_ = await audit_actions(session, "packages.migrate")
        assert len(events_) == 2
        assert events_[0].before == {"version": 1}
        assert events_[0].after == {"version": 2}


class TestImportAssignments:
    async def test_a_bad_line_rejects_the_whole_file(
        self, session: Session, clock: datetime
    ) -> None:
        await make_package(session, name="Starter")
        a = await make_user(session, email="a@example.com")
        await make_user(session, email="b@example.com")
        text = (
            "email,package\n"
            "a@example.com,Starter\n"
            "nobody@example.com,Starter\n"
            "b@example.com,Missing\n"
            "a@example.com,starter\n"
        )
        with pytest.raises(AssignmentImportRejectedError) as info:
            await packages_service.import_assignments(session, OWNER, csv_text=text)
        rejected = info.value.details["rejected"]
        assert [(r["line"], r["email"]) for r in rejected] == [
            (3, "nobody@example.com"),
            (4, "b@example.com"),
            (5, "a@example.com"),
        ]
        assert "no user" in rejected[0]["reason"]
        assert await _held(session, a.id) == []

    async def test_a_clean_file_assigns_everyone(self, session: Session, clock: datetime) -> None:
        await make_package(session, name="Starter")
        await make_package(session, name="Power", allowance="100")
        a = await make_user(session, email="a@example.com")
        b = await make_user(session, email="b@example.com")
        text = "email,package,ends_at\nA@example.com,Starter,\nb@example.com,Power,2027-06-01\n"
        results = await packages_service.import_assignments(
            session, OWNER, csv_text=text, reason="onboarding"
        )
        assert sum(r.count("gain") for r in results) == 2
        assert len(await _held(session, a.id)) == 1
        (power,) = await _held(session, b.id)
        assert power.ends_at is not None
        assert power.ends_at.year == 2027
        assert len(await audit_actions(session, "packages.import")) == 1


class TestGroupDefault:
    async def test_a_member_created_in_the_group_gets_the_default(
        self, session: Session, clock: datetime
    ) -> None:
        await make_package(session, name="Starter")
        await make_group(session, name="Mobile")
        await packages_service.set_group_default_package(
            session, OWNER, group="Mobile", package="Starter"
        )
        user = await users_service.create_user(
            session, OWNER, email="tom@example.com", group="Mobile"
        )
        (a,) = await _held(session, user.id)
        assert await ledger_service.balance(session, a.allowance_account_id) == 20 * UNIT
        assign = (await audit_actions(session, "packages.assign"))[-1]
        assert assign.actor_label == "system"
        assert assign.details is not None
        assert assign.details["reason"] == "default package of group Mobile"

    async def test_a_member_moved_into_the_group_gets_it_once(
        self, session: Session, clock: datetime
    ) -> None:
        await make_package(session, name="Power")
        group = await make_group(session, name="Platform")
        await packages_service.set_group_default_package(
            session, OWNER, group="Platform", package="Power"
        )
        user = await make_user(session)
        await users_service.move_group(session, OWNER, user=user.id, group="Platform")
        assert len(await _held(session, user.id)) == 1
        await events.publish(session, UserJoinedGroup(user_id=user.id, group_id=group.id))
        assert len(await _held(session, user.id)) == 1

    async def test_no_default_assigns_nothing(self, session: Session, clock: datetime) -> None:
        await make_group(session, name="Quiet")
        user = await users_service.create_user(session, OWNER, email="q@example.com", group="Quiet")
        assert await _held(session, user.id) == []

    async def test_clearing_the_default_is_audited(self, session: Session) -> None:
        await make_package(session, name="Starter")
        await make_group(session, name="Mobile")
        await packages_service.set_group_default_package(
            session, OWNER, group="Mobile", package="Starter"
        )
        await packages_service.set_group_default_package(
            session, OWNER, group="Mobile", package=None
        )
        assert await packages_service.list_group_defaults(session, OWNER) == []
        last = (await audit_actions(session, "packages.group_default"))[-1]
        assert (last.before, last.after) == ({"package": "Starter"}, {"package": None})


class TestReadModels:
    async def test_entitlements_carry_what_the_gateway_needs(
        self, session: Session, clock: datetime
    ) -> None:
        await make_package(
            session,
            name="Starter",
            rpm=60,
            tpm=100_000,
            max_concurrent=2,
            max_cost_per_request="1.5",
            model_patterns=["claude-sonnet-*", "claude-haiku-*"],
        )
        user = await make_user(session)
        held = await packages_service.assign_package(
            session, OWNER, package="Starter", user_id=user.id
        )
        (ent,) = await packages_service.entitlements_for_users(session, [user.id])
        assert (ent.assignment_id, ent.package_name, ent.version) == (
            held.assignment.id,
            "Starter",
            1,
        )
        assert (ent.rpm, ent.tpm, ent.max_concurrent, ent.max_cost_per_request_micros) == (
            60,
            100_000,
            2,
            1_500_000,
        )
        assert ent.allowance_account_id == held.assignment.allowance_account_id
        assert ent.period_ends_at == held.assignment.period_ends_at
        assert ent.allows_model("claude-haiku-4-5")
        assert not ent.allows_model("claude-opus-4-8")

    async def test_member_view_reconciles_with_the_ledger(
        self, session: Session, clock: datetime
    ) -> None:
        await make_package(session, name="Starter")
        user = await make_user(session)
        held = await packages_service.assign_package(
            session, OWNER, package="Starter", user_id=user.id
        )
        await spend(session, held.assignment.allowance_account_id, 7_250_000)
        member = Actor(kind=ActorKind.USER, label=user.email, user_id=user.id, role="member")
        (mine,) = await packages_service.packages_of_user(session, member, user_id=user.id)
        (admin,) = await packages_service.packages_of_user(session, OWNER, user_id=user.id)
        balance = await ledger_service.balance(session, held.assignment.allowance_account_id)
        assert mine.remaining_micros == admin.remaining_micros == balance == 12_750_000
        assert (mine.allowance_micros, mine.available_micros, mine.used_micros) == (
            20 * UNIT,
            20 * UNIT,
            7_250_000,
        )
        assert mine.next_reset_at == held.assignment.period_ends_at
        assert (await ledger_service.verify(session, OWNER)).ok

    async def test_a_member_cannot_read_someone_else(
        self, session: Session, clock: datetime
    ) -> None:
        user, other = await make_user(session), await make_user(session)
        member = Actor(kind=ActorKind.USER, label=user.email, user_id=user.id, role="member")
        with pytest.raises(PermissionDeniedError):
            await packages_service.packages_of_user(session, member, user_id=other.id)
