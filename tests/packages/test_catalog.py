"""The catalog: create, edit into versions, archive, permissions."""

from __future__ import annotations

from datetime import datetime

import pytest
from tests.factories import make_user

from spectra.audit.actor import Actor, ActorKind
from spectra.db.session import Session
from spectra.packages import service as packages_service
from spectra.packages.errors import (
    PackageArchivedError,
    PackageNameTakenError,
    PackageTermsInvalidError,
)
from spectra.packages.schemas import PackageUpdate
from spectra.users.permissions import PermissionDeniedError

from .factories import OWNER, UNIT, audit_actions, make_package


class TestCreatePackage:
    async def test_creates_version_one_and_audits(self, session: Session) -> None:
        detail = await make_package(
            session, name="Starter", allowance="20.50", rpm=60, rollover_periods=1
        )
        assert detail.package.current_version == 1
        assert detail.terms.allowance_micros == 20_500_000
        assert detail.terms.rpm == 60
        (event,) = await audit_actions(session, "packages.create")
        assert event.target_label == "Starter"
        assert event.after is not None
        assert event.after["allowance_micros"] == 20_500_000

    async def test_name_is_unique_regardless_of_case(self, session: Session) -> None:
        await make_package(session, name="Power")
        with pytest.raises(PackageNameTakenError):
            await make_package(session, name="power")

    async def test_one_time_needs_valid_days(self, session: Session) -> None:
        with pytest.raises(PackageTermsInvalidError):
            await make_package(session, period="one_time")

    async def test_a_member_cannot_create(self, session: Session) -> None:
        member = Actor(kind=ActorKind.USER, label="m@example.com", role="member")
        from spectra.packages.schemas import PackageCreate

        with pytest.raises(PermissionDeniedError):
            await packages_service.create_package(
                session,
                member,
                data=PackageCreate.model_validate(
                    {"name": "x", "allowance": "1", "period": "daily"}
                ),
            )


class TestEditPackage:
    async def test_new_terms_make_a_new_version_and_holders_keep_theirs(
        self, session: Session, clock: datetime
    ) -> None:
        detail = await make_package(session, name="Starter")
        user = await make_user(session)
        held = await packages_service.assign_package(
            session, OWNER, package="Starter", user_id=user.id
        )
        edited = await packages_service.edit_package(
            session,
            OWNER,
            name="starter",
            data=PackageUpdate.model_validate({"allowance": "30", "note": "raise"}),
        )
        assert edited.package.current_version == 2
        assert edited.terms.allowance_micros == 30 * UNIT
        assert edited.terms.model_patterns == detail.terms.model_patterns
        again = await packages_service.get_assignment(
            session, OWNER, assignment_id=held.assignment.id
        )
        assert again.version == 1
        versions = await packages_service.list_versions(session, OWNER, name="Starter")
        assert [v.version for v in versions] == [1, 2]
        (event,) = await audit_actions(session, "packages.edit")
        assert event.details is not None
        assert event.details["new_version"] == 2

    async def test_description_only_makes_no_version(self, session: Session) -> None:
        await make_package(session, name="Starter")
        edited = await packages_service.edit_package(
            session, OWNER, name="Starter", data=PackageUpdate(description="for new joiners")
        )
        assert edited.package.current_version == 1
        assert edited.package.description == "for new joiners"

    async def test_unchanged_terms_make_no_version(self, session: Session) -> None:
        await make_package(session, name="Starter", allowance="20")
        edited = await packages_service.edit_package(
            session,
            OWNER,
            name="Starter",
            data=PackageUpdate.model_validate({"allowance": "20.00"}),
        )
        assert edited.package.current_version == 1


class TestArchivePackage:
    async def test_archived_package_cannot_be_assigned(
        self, session: Session, clock: datetime
    ) -> None:
        await make_package(session, name="Old")
        user = await make_user(session)
        archived = await packages_service.archive_package(
            session, OWNER, name="Old", reason="retired"
        )
        assert archived.package.status == "archived"
        with pytest.raises(PackageArchivedError):
            await packages_service.assign_package(session, OWNER, package="Old", user_id=user.id)
        (event,) = await audit_actions(session, "packages.archive")
        assert event.after == {"status": "archived"}
