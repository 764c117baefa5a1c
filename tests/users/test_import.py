"""Service tests for import_users: line by line, all or nothing, with a report."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from tests.factories import make_group, make_user

from spectra.audit.actor import local_actor
from spectra.audit.models import AuditEvent
from spectra.db.session import Session
from spectra.users import service as users_service
from spectra.users.errors import ImportRejectedError
from spectra.users.models import User

from .factories import actor_for, last_audit


async def _user_count(session: Session) -> int:
    return int((await session.execute(select(func.count()).select_from(User))).scalar_one())


class TestImportUsers:
    async def test_imports_every_line_into_its_group(self, session: Session) -> None:
        await make_group(session, name="Platform")
        text = "email,name,group,role\npriya@example.com,Priya,Platform,\ntom@example.com,Tom,,billing\n"
        created = await users_service.import_users(session, local_actor(), csv_text=text)
        assert [(u.email, u.group.name, u.role) for u in created] == [
            ("priya@example.com", "Platform", "member"),
            ("tom@example.com", "default", "billing"),
        ]
        event = await last_audit(session, "users.import")
        assert (event.after or {})["created"] == 2

    async def test_a_bad_line_rejects_the_whole_file_with_reasons(self, session: Session) -> None:
        await make_user(session, email="exists@example.com")
        before = await _user_count(session)
        audits = (await session.execute(select(func.count()).select_from(AuditEvent))).scalar_one()
        text = "\n".join(
            [
                "ok@example.com,Ok,,",
                "not-an-email,Bad,,",
                "exists@example.com,Again,,",
                "ok@example.com,Twice,,",
                "new@example.com,New,NoSuchGroup,",
                "role@example.com,Role,,emperor",
                "cols@example.com,a,b,c,d",
            ]
        )
        with pytest.raises(ImportRejectedError) as caught:
            await users_service.import_users(session, local_actor(), csv_text=text)
        rejected = caught.value.details["rejected"]
        assert [r["line"] for r in rejected] == [2, 3, 4, 5, 6, 7]
        reasons = {r["line"]: r["reason"] for r in rejected}
        assert "not an email" in reasons[2]
        assert "already exists" in reasons[3]
        assert "first on line 1" in reasons[4]
        assert "NoSuchGroup" in reasons[5]
        assert "not a role" in reasons[6]
        assert "columns" in reasons[7]
        assert await _user_count(session) == before
        assert (
            await session.execute(select(func.count()).select_from(AuditEvent))
        ).scalar_one() == audits

    async def test_an_admin_cannot_import_roles(self, session: Session) -> None:
        admin = await make_user(session, role="admin")
        with pytest.raises(ImportRejectedError) as caught:
            await users_service.import_users(
                session, actor_for(admin), csv_text="x@example.com,X,,admin\n"
            )
        assert "only an owner" in caught.value.details["rejected"][0]["reason"]

    async def test_an_empty_file_is_refused(self, session: Session) -> None:
        with pytest.raises(Exception, match="no users"):
            await users_service.import_users(
                session, local_actor(), csv_text="email,name,group,role\n"
            )
