"""Service tests for passwords, setup links, sign-in, sessions and the first start."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from tests.factories import make_user

from spectra.audit.actor import local_actor
from spectra.audit.models import AuditEvent
from spectra.db.session import Session
from spectra.errors import SpectraError
from spectra.kit import clock as clock_module
from spectra.users import passwords
from spectra.users import service as users_service
from spectra.users.models import PasswordSetupLink, User
from spectra.users.throttle import (
    ACCOUNT_LOCK_SECONDS,
    MAX_FAILURES_PER_ACCOUNT,
    MAX_FAILURES_PER_EMAIL_AND_IP,
    MAX_FAILURES_PER_IP,
)

from .factories import PASSWORD, actor_for, last_audit, make_owner


async def _with_password(session: Session, **overrides: Any) -> User:
    return await make_user(session, password_hash=passwords.hash_password(PASSWORD), **overrides)


class TestSetPassword:
    async def test_sets_an_argon2id_hash_and_activates_an_invited_user(
        self, session: Session
    ) -> None:
        user = await make_user(session, status="invited")
        await users_service.set_password(session, local_actor(), user=user.email, password=PASSWORD)
        assert user.password_hash is not None
        assert user.password_hash.startswith("$argon2id$")
        assert user.status == "active"
        event = await last_audit(session, "users.set_password")
        assert PASSWORD not in str(event.before) + str(event.after) + str(event.details)

    async def test_refuses_a_short_password(self, session: Session) -> None:
        user = await make_user(session)
        with pytest.raises(SpectraError) as caught:
            await users_service.set_password(session, local_actor(), user=user.id, password="short")
        assert caught.value.code == "password_too_weak"

    @pytest.mark.parametrize(
        "password", ["password1234", "Password123!", "qwertyuiop12", "x" * 20, "123456789012"]
    )
    async def test_refuses_a_common_or_trivial_password_with_advice(
        self, session: Session, password: str
    ) -> None:
        user = await make_user(session)
        with pytest.raises(SpectraError) as caught:
            await users_service.set_password(
                session, local_actor(), user=user.id, password=password
            )
        assert caught.value.code == "password_too_weak"
        assert "too easy to guess" in caught.value.message
        assert caught.value.details["feedback"]
        assert user.password_hash is None

    async def test_refuses_a_password_made_of_the_users_own_email(self, session: Session) -> None:
        user = await make_user(session, email="marguerite.okonkwo@example.com")
        with pytest.raises(SpectraError) as caught:
            await users_service.set_password(
                session, local_actor(), user=user.id, password="marguerite.okonkwo2024"
            )
        assert caught.value.code == "password_too_weak"

    async def test_an_admin_cannot_set_an_owners_password(self, session: Session) -> None:
        owner = await make_owner(session)
        admin = await make_user(session, role="admin")
        with pytest.raises(SpectraError) as caught:
            await users_service.set_password(
                session, actor_for(admin), user=owner.id, password=PASSWORD
            )
        assert caught.value.code == "rank_too_low"


class TestCreateSetupLink:
    async def test_a_new_link_retires_the_old_one(self, session: Session) -> None:
        user = await make_user(session, status="invited")
        first = await users_service.create_setup_link(session, local_actor(), user=user.id)
        second = await users_service.create_setup_link(session, local_actor(), user=user.id)
        with pytest.raises(SpectraError) as caught:
            await users_service.consume_setup_link(session, token=first.token, password=PASSWORD)
        assert caught.value.code == "setup_link_invalid"
        await users_service.consume_setup_link(session, token=second.token, password=PASSWORD)
        assert user.status == "active"


class TestConsumeSetupLink:
    async def test_is_single_use(self, session: Session) -> None:
        issued = await users_service.invite_user(session, local_actor(), email="once@example.com")
        user = await users_service.consume_setup_link(
            session, token=issued.token, password=PASSWORD
        )
        assert passwords.verify_password(user.password_hash, PASSWORD)
        assert (await last_audit(session, "users.password_setup")).actor_label == "once@example.com"
        with pytest.raises(SpectraError) as caught:
            await users_service.consume_setup_link(
                session, token=issued.token, password=PASSWORD + "!"
            )
        assert caught.value.code == "setup_link_invalid"

    async def test_expires(self, session: Session, clock: datetime) -> None:
        issued = await users_service.invite_user(session, local_actor(), email="late@example.com")
        clock_module.advance(timedelta(hours=73))
        with pytest.raises(SpectraError) as caught:
            await users_service.consume_setup_link(session, token=issued.token, password=PASSWORD)
        assert caught.value.code == "setup_link_invalid"

    async def test_stores_only_a_hash(self, session: Session) -> None:
        issued = await users_service.invite_user(session, local_actor(), email="hash@example.com")
        stmt = select(PasswordSetupLink).where(PasswordSetupLink.user_id == issued.user.id)
        link = (await session.execute(stmt)).scalar_one()
        assert issued.token not in link.token_hash
        assert len(link.token_hash) == 64

    async def test_refuses_an_unknown_token(self, session: Session) -> None:
        with pytest.raises(SpectraError) as caught:
            await users_service.consume_setup_link(session, token="nope", password=PASSWORD)
        assert caught.value.code == "setup_link_invalid"


class TestChangePassword:
    async def test_changes_it_after_checking_the_current_one(self, session: Session) -> None:
        user = await _with_password(session)
        opened = await users_service.create_session(session, user=user)
        await users_service.change_password(
            session,
            actor_for(user),
            current_password=PASSWORD,
            new_password="another long passphrase",
        )
        assert passwords.verify_password(user.password_hash, "another long passphrase")
        assert opened.row.ended_at is not None
        assert (await last_audit(session)).action == "users.change_password"

    async def test_refuses_a_wrong_current_password(self, session: Session) -> None:
        user = await _with_password(session)
        with pytest.raises(SpectraError) as caught:
            await users_service.change_password(
                session, actor_for(user), current_password="wrong password!", new_password="x" * 20
            )
        assert caught.value.code == "current_password_wrong"


class TestAuthenticatePassword:
    async def test_accepts_the_right_password_in_any_email_case(self, session: Session) -> None:
        user = await _with_password(session, email="login@example.com")
        found = await users_service.authenticate_password(
            session, email="LOGIN@example.com", password=PASSWORD, ip="10.0.0.1"
        )
        assert found is user

    async def test_refuses_a_wrong_password_with_one_sentence(self, session: Session) -> None:
        await _with_password(session, email="wrong@example.com")
        with pytest.raises(SpectraError) as caught:
            await users_service.authenticate_password(
                session, email="wrong@example.com", password="nope nope nope", ip=None
            )
        assert caught.value.code == "invalid_credentials"

    async def test_tells_a_suspended_user_why_only_with_the_right_password(
        self, session: Session
    ) -> None:
        await _with_password(
            session, email="susp@example.com", status="suspended", status_reason="unpaid"
        )
        with pytest.raises(SpectraError) as caught:
            await users_service.authenticate_password(
                session, email="susp@example.com", password=PASSWORD, ip=None
            )
        assert caught.value.code == "user_suspended"
        assert "unpaid" in caught.value.message

    async def test_locks_an_email_after_repeated_failures(
        self, session: Session, clock: datetime
    ) -> None:
        await _with_password(session, email="lock@example.com")
        for _ in range(MAX_FAILURES_PER_EMAIL_AND_IP):
            with pytest.raises(SpectraError):
                await users_service.authenticate_password(
                    session, email="lock@example.com", password="bad password!", ip=None
                )
        with pytest.raises(SpectraError) as caught:
            await users_service.authenticate_password(
                session, email="lock@example.com", password=PASSWORD, ip=None
            )
        assert caught.value.code == "sign_in_locked"
        assert "try again in 15 minutes" in caught.value.message
        clock_module.advance(timedelta(minutes=16))
        await users_service.authenticate_password(
            session, email="lock@example.com", password=PASSWORD, ip=None
        )

    async def test_locks_an_ip_across_emails(self, session: Session, clock: datetime) -> None:
        await _with_password(session, email="victim@example.com")
        for n in range(MAX_FAILURES_PER_IP):
            with pytest.raises(SpectraError):
                await users_service.authenticate_password(
                    session, email=f"spray{n}@example.com", password="x" * 12, ip="203.0.113.9"
                )
        with pytest.raises(SpectraError) as caught:
            await users_service.authenticate_password(
                session, email="victim@example.com", password=PASSWORD, ip="203.0.113.9"
            )
        assert caught.value.code == "sign_in_locked"
        assert "network address" in caught.value.message
        await users_service.authenticate_password(
            session, email="victim@example.com", password=PASSWORD, ip="198.51.100.1"
        )


async def _fail_from(session: Session, email: str, ips: list[str]) -> None:
    for ip in ips:
        with pytest.raises(SpectraError) as caught:
            await users_service.authenticate_password(
                session, email=email, password="not the password", ip=ip
            )
        assert caught.value.code == "invalid_credentials"


class TestLockoutCannotKeepTheOwnerOut:
    async def test_an_attacker_elsewhere_locks_only_their_own_address(
        self, session: Session, clock: datetime
    ) -> None:
        await _with_password(session, email="boss@example.com", role="owner")
        await _fail_from(
            session, "boss@example.com", ["203.0.113.9"] * MAX_FAILURES_PER_EMAIL_AND_IP
        )
        with pytest.raises(SpectraError) as caught:
            await users_service.authenticate_password(
                session, email="boss@example.com", password=PASSWORD, ip="203.0.113.9"
            )
        assert caught.value.code == "sign_in_locked"
        found = await users_service.authenticate_password(
            session, email="boss@example.com", password=PASSWORD, ip="198.51.100.1"
        )
        assert found.email == "boss@example.com"

    async def test_many_addresses_lock_the_account_only_briefly(
        self, session: Session, clock: datetime
    ) -> None:
        await _with_password(session, email="boss@example.com", role="owner")
        spread = [f"203.0.{n // 200}.{n % 200}" for n in range(MAX_FAILURES_PER_ACCOUNT)]
        await _fail_from(session, "boss@example.com", spread)
        with pytest.raises(SpectraError) as caught:
            await users_service.authenticate_password(
                session, email="boss@example.com", password=PASSWORD, ip="198.51.100.1"
            )
        assert caught.value.code == "sign_in_locked"
        assert "many network addresses" in caught.value.message
        assert caught.value.details["retry_after"] <= ACCOUNT_LOCK_SECONDS + 1
        clock_module.advance(timedelta(seconds=ACCOUNT_LOCK_SECONDS + 1))
        await users_service.authenticate_password(
            session, email="boss@example.com", password=PASSWORD, ip="198.51.100.1"
        )

    async def test_the_owner_is_told_in_the_log_and_at_the_next_sign_in(
        self, session: Session, clock: datetime, caplog: pytest.LogCaptureFixture
    ) -> None:
        owner = await _with_password(session, email="boss@example.com", role="owner")
        with caplog.at_level(logging.WARNING, logger="spectra.users.throttle"):
            await _fail_from(
                session, "boss@example.com", ["203.0.113.9"] * MAX_FAILURES_PER_EMAIL_AND_IP
            )
        assert any("sign-in locked" in r.getMessage() for r in caplog.records)
        await users_service.sign_in(
            session, email="boss@example.com", password=PASSWORD, client_ip="198.51.100.1"
        )
        event = await last_audit(session, "auth.sign_in_locked")
        assert event.target_id == str(owner.id)
        assert event.details is not None
        assert [(x["scope"], x["ip"]) for x in event.details["lockouts"]] == [
            ("email_ip", "203.0.113.9")
        ]
        await users_service.sign_in(
            session, email="boss@example.com", password=PASSWORD, client_ip="198.51.100.1"
        )
        told = (
            await session.execute(
                select(AuditEvent).where(AuditEvent.action == "auth.sign_in_locked")
            )
        ).scalars()
        assert len(list(told)) == 1, "told once"


class TestSessions:
    async def test_create_resolve_end(self, session: Session) -> None:
        user = await _with_password(session)
        opened = await users_service.sign_in(
            session, email=user.email, password=PASSWORD, client_ip="10.1.1.1"
        )
        assert opened.token not in opened.row.token_hash
        row, found = await users_service.resolve_session(session, token=opened.token)
        assert (row.id, found.id) == (opened.row.id, user.id)
        assert (await last_audit(session, "auth.sign_in")).client_ip == "10.1.1.1"
        await users_service.end_session(session, token=opened.token)
        with pytest.raises(SpectraError) as caught:
            await users_service.resolve_session(session, token=opened.token)
        assert caught.value.code == "session_invalid"

    async def test_expires(self, session: Session, clock: datetime) -> None:
        user = await _with_password(session)
        opened = await users_service.create_session(session, user=user, ttl=timedelta(hours=1))
        clock_module.advance(timedelta(hours=1, seconds=1))
        with pytest.raises(SpectraError) as caught:
            await users_service.resolve_session(session, token=opened.token)
        assert "expired" in caught.value.message

    async def test_a_suspended_users_session_is_refused(self, session: Session) -> None:
        user = await _with_password(session)
        opened = await users_service.create_session(session, user=user)
        user.status = "suspended"
        opened.row.ended_at = None
        with pytest.raises(SpectraError) as caught:
            await users_service.resolve_session(session, token=opened.token)
        assert caught.value.code == "user_suspended"


class TestEnsureOwner:
    async def test_creates_an_invited_owner_with_a_link_once(self, session: Session) -> None:
        issued = await users_service.ensure_owner(session, email="Boss@Example.com")
        assert issued is not None
        assert (issued.user.email, issued.user.role, issued.user.status) == (
            "boss@example.com",
            "owner",
            "invited",
        )
        assert await users_service.ensure_owner(session, email="boss@example.com") is None
        user = await users_service.consume_setup_link(
            session, token=issued.token, password=PASSWORD
        )
        assert user.status == "active"
        assert (await last_audit(session, "users.create")).actor_label == "system"

    async def test_does_nothing_when_an_owner_exists(self, session: Session) -> None:
        await make_owner(session)
        assert await users_service.ensure_owner(session, email="another@example.com") is None
