from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from spectra.audit.actor import local_actor
from spectra.audit.models import AuditEvent
from spectra.db.models import ChangeFeedEntry
from spectra.db.session import Session
from spectra.keys import errors
from spectra.keys import service as keys_service
from spectra.keys.models import AdminToken, MemberKey
from spectra.keys.secrets import hash_secret
from spectra.kit import clock as clock_module
from spectra.users.permissions import PermissionDeniedError, ReadOnlyTokenError

from .factories import actor_for, make_admin, make_key, make_member, make_token


async def last_audit(session: Session) -> AuditEvent:
    return (
        await session.execute(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    ).scalar_one()


async def changes_for(session: Session, entity: object) -> list[str]:
    rows = await session.execute(
        select(ChangeFeedEntry.kind).where(ChangeFeedEntry.entity_id == str(entity))
    )
    return list(rows.scalars())


class TestCreateKey:
    async def test_a_member_creates_their_own_key_and_sees_the_secret_once(
        self, session: Session
    ) -> None:
        member = await make_member(session)
        key, secret = await keys_service.create_key(session, actor_for(member), name="laptop")
        stored = (
            await session.execute(select(MemberKey).where(MemberKey.id == key.id))
        ).scalar_one()
        assert stored.user_id == member.id
        assert stored.hash == hash_secret(secret)
        assert stored.prefix.startswith("sk-spectra-")
        assert secret not in stored.prefix
        assert stored.status == "active"
        event = await last_audit(session)
        assert (event.action, event.target_id, event.actor_label) == (
            "keys.create",
            str(key.id),
            member.email,
        )
        assert event.after is not None
        assert event.after["name"] == "laptop"
        assert secret not in str(event.after)
        assert stored.hash not in str(event.after)
        assert await changes_for(session, key.id) == ["keys.changed"]

    async def test_an_admin_creates_a_key_for_a_member_by_email(self, session: Session) -> None:
        admin, member = await make_admin(session), await make_member(session)
        key, _ = await keys_service.create_key(
            session, actor_for(admin), user_email=member.email.upper()
        )
        assert key.user_id == member.id

    async def test_scopes_and_allowlist_are_cleaned(self, session: Session) -> None:
        member = await make_member(session)
        key, _ = await make_key(
            session,
            member,
            scopes=[" claude-* ", "claude-*", "gpt-4o"],
            ip_allowlist=["10.1.2.3/8", "192.168.0.7"],
        )
        assert key.scopes == ["claude-*", "gpt-4o"]
        assert key.ip_allowlist == ["10.0.0.0/8", "192.168.0.7/32"]

    async def test_a_malformed_cidr_is_refused_and_nothing_is_written(
        self, session: Session
    ) -> None:
        member = await make_member(session)
        with pytest.raises(errors.InvalidCidrError) as caught:
            await make_key(session, member, ip_allowlist=["10.0.0.0/33"])
        assert caught.value.code == "invalid_cidr"
        assert (
            await session.execute(select(MemberKey).where(MemberKey.user_id == member.id))
        ).first() is None

    async def test_a_scope_with_spaces_is_refused(self, session: Session) -> None:
        member = await make_member(session)
        with pytest.raises(errors.InvalidScopeError):
            await make_key(session, member, scopes=["claude sonnet"])

    async def test_an_unknown_user_is_refused(self, session: Session) -> None:
        with pytest.raises(errors.KeyOwnerNotFoundError) as caught:
            await keys_service.create_key(session, local_actor(), user_email="nobody@example.com")
        assert caught.value.code == "user_not_found"

    async def test_a_member_cannot_create_a_key_for_another_member(self, session: Session) -> None:
        alice, bob = await make_member(session), await make_member(session)
        with pytest.raises(PermissionDeniedError):
            await keys_service.create_key(session, actor_for(alice), user_id=bob.id)

    async def test_a_read_only_token_cannot_create_keys(self, session: Session) -> None:
        admin = await make_admin(session)
        with pytest.raises(ReadOnlyTokenError):
            await keys_service.create_key(session, actor_for(admin, read_only=True))

    async def test_an_expiry_in_the_past_is_refused(
        self, session: Session, clock: datetime
    ) -> None:
        member = await make_member(session)
        with pytest.raises(errors.InvalidExpiryError):
            await make_key(session, member, expires_at=clock - timedelta(minutes=1))

    async def test_the_local_command_must_name_a_user(self, session: Session) -> None:
        with pytest.raises(errors.KeyOwnerRequiredError):
            await keys_service.create_key(session, local_actor())

    async def test_a_removed_user_gets_no_new_keys(self, session: Session) -> None:
        member = await make_member(session, status="removed")
        with pytest.raises(errors.KeyOwnerInactiveError):
            await make_key(session, member)


class TestListKeys:
    async def test_a_member_sees_only_their_own_keys(self, session: Session) -> None:
        alice, bob = await make_member(session), await make_member(session)
        mine, _ = await make_key(session, alice)
        await make_key(session, bob)
        page = await keys_service.list_keys(session, actor_for(alice))
        assert [k.id for k in page.items] == [mine.id]

    async def test_a_member_cannot_list_another_members_keys(self, session: Session) -> None:
        alice, bob = await make_member(session), await make_member(session)
        with pytest.raises(PermissionDeniedError):
            await keys_service.list_keys(session, actor_for(alice), user_id=bob.id)

    async def test_an_admin_filters_by_user_and_status_and_pages(self, session: Session) -> None:
        admin, member = await make_admin(session), await make_member(session)
        first, _ = await make_key(session, member)
        second, _ = await make_key(session, member)
        third, _ = await make_key(session, member)
        await keys_service.revoke_key(session, actor_for(admin), key_id=second.id)
        active = await keys_service.list_keys(
            session, actor_for(admin), user_id=member.id, status="active"
        )
        assert {k.id for k in active.items} == {first.id, third.id}
        revoked = await keys_service.list_keys(
            session, actor_for(admin), user_email=member.email, status="revoked"
        )
        assert [k.id for k in revoked.items] == [second.id]
        page1 = await keys_service.list_keys(session, actor_for(admin), user_id=member.id, limit=2)
        page2 = await keys_service.list_keys(
            session, actor_for(admin), user_id=member.id, limit=2, cursor=page1.next_cursor
        )
        assert len(page1.items) == 2
        assert page1.next_cursor is not None
        assert {k.id for k in [*page1.items, *page2.items]} == {first.id, second.id, third.id}

    async def test_expired_keys_are_listed_as_expired(
        self, session: Session, clock: datetime
    ) -> None:
        member = await make_member(session)
        key, _ = await make_key(session, member, expires_at=clock + timedelta(hours=1))
        clock_module.advance(timedelta(hours=2))
        expired = await keys_service.list_keys(
            session, local_actor(), user_id=member.id, status="expired"
        )
        assert [k.id for k in expired.items] == [key.id]
        assert key.effective_status(clock_module.utc_now()) == "expired"

    async def test_an_unknown_status_is_refused(self, session: Session) -> None:
        with pytest.raises(Exception, match="status"):
            await keys_service.list_keys(session, local_actor(), status="sleeping")


class TestGetKey:
    async def test_a_member_gets_a_forbidden_answer_for_another_members_key(
        self, session: Session
    ) -> None:
        alice, bob = await make_member(session), await make_member(session)
        key, _ = await make_key(session, bob)
        with pytest.raises(PermissionDeniedError):
            await keys_service.get_key(session, actor_for(alice), key_id=key.id)

    async def test_an_unknown_id_is_not_found(self, session: Session) -> None:
        with pytest.raises(errors.KeyNotFoundError):
            await keys_service.get_key(session, local_actor(), key_id=uuid.uuid4())


class TestRevokeKey:
    async def test_a_member_revokes_their_own_key(self, session: Session) -> None:
        member = await make_member(session)
        key, secret = await make_key(session, member)
        await keys_service.revoke_key(
            session, actor_for(member), key_id=key.id, reason="lost laptop"
        )
        stored = (
            await session.execute(select(MemberKey).where(MemberKey.id == key.id))
        ).scalar_one()
        assert (stored.status, stored.revoked_reason) == ("revoked", "lost laptop")
        assert stored.revoked_at is not None
        event = await last_audit(session)
        assert event.action == "keys.revoke"
        assert event.before is not None
        assert event.before["status"] == "active"
        assert event.after is not None
        assert event.after["status"] == "revoked"
        assert (await changes_for(session, key.id)).count("keys.changed") == 2
        with pytest.raises(errors.KeyRevokedError):
            await keys_service.authenticate_key(session, secret)

    async def test_a_member_cannot_revoke_another_members_key(self, session: Session) -> None:
        alice, bob = await make_member(session), await make_member(session)
        key, _ = await make_key(session, bob)
        with pytest.raises(PermissionDeniedError):
            await keys_service.revoke_key(session, actor_for(alice), key_id=key.id)
        assert key.status == "active"

    async def test_an_auditor_can_read_but_not_revoke(self, session: Session) -> None:
        auditor = await make_member(session, role="auditor")
        member = await make_member(session)
        key, _ = await make_key(session, member)
        assert (await keys_service.get_key(session, actor_for(auditor), key_id=key.id)).id == key.id
        with pytest.raises(PermissionDeniedError):
            await keys_service.revoke_key(session, actor_for(auditor), key_id=key.id)

    async def test_revoking_twice_is_a_conflict(self, session: Session) -> None:
        member = await make_member(session)
        key, _ = await make_key(session, member)
        await keys_service.revoke_key(session, local_actor(), key_id=key.id)
        with pytest.raises(errors.KeyNotActiveError):
            await keys_service.revoke_key(session, local_actor(), key_id=key.id)


class TestRotateKey:
    async def test_the_old_secret_works_during_the_grace_period_then_stops(
        self, session: Session, clock: datetime
    ) -> None:
        member = await make_member(session)
        old, old_secret = await make_key(
            session, member, name="ci", scopes=["gpt-*"], ip_allowlist=["10.0.0.0/8"]
        )
        new, new_secret = await keys_service.rotate_key(
            session, actor_for(member), key_id=old.id, grace=timedelta(hours=2)
        )
        assert new_secret != old_secret
        assert new.id != old.id
        assert (new.name, new.scopes, new.ip_allowlist, new.rotated_from_id) == (
            "ci",
            ["gpt-*"],
            ["10.0.0.0/8"],
            old.id,
        )
        assert old.grace_until == clock + timedelta(hours=2)
        assert (
            await keys_service.authenticate_key(session, old_secret, client_ip="10.0.0.1")
        ).id == old.id
        clock_module.advance(timedelta(hours=2))
        with pytest.raises(errors.KeyRevokedError):
            await keys_service.authenticate_key(session, old_secret, client_ip="10.0.0.1")
        assert (
            await keys_service.authenticate_key(session, new_secret, client_ip="10.0.0.1")
        ).id == new.id
        event = await last_audit(session)
        assert event.action == "keys.rotate"
        assert event.details is not None
        assert event.details["new_key_id"] == str(new.id)
        assert new_secret not in str(event.details)
        assert "keys.changed" in await changes_for(session, new.id)

    async def test_a_rotated_key_cannot_be_rotated_again(self, session: Session) -> None:
        member = await make_member(session)
        old, _ = await make_key(session, member)
        await keys_service.rotate_key(session, local_actor(), key_id=old.id)
        with pytest.raises(errors.KeyAlreadyRotatedError):
            await keys_service.rotate_key(session, local_actor(), key_id=old.id)

    async def test_a_revoked_key_cannot_be_rotated(self, session: Session) -> None:
        member = await make_member(session)
        key, _ = await make_key(session, member)
        await keys_service.revoke_key(session, local_actor(), key_id=key.id)
        with pytest.raises(errors.KeyNotActiveError):
            await keys_service.rotate_key(session, local_actor(), key_id=key.id)

    async def test_a_member_cannot_rotate_another_members_key(self, session: Session) -> None:
        alice, bob = await make_member(session), await make_member(session)
        key, _ = await make_key(session, bob)
        with pytest.raises(PermissionDeniedError):
            await keys_service.rotate_key(session, actor_for(alice), key_id=key.id)


class TestUpdateKey:
    async def test_only_the_fields_given_change(self, session: Session) -> None:
        member = await make_member(session)
        key, _ = await make_key(session, member, name="a", scopes=["claude-*"])
        await keys_service.update_key(
            session, actor_for(member), key_id=key.id, ip_allowlist=["2001:db8::/32"]
        )
        assert (key.name, key.scopes, key.ip_allowlist) == ("a", ["claude-*"], ["2001:db8::/32"])
        event = await last_audit(session)
        assert event.action == "keys.update"
        assert event.before is not None
        assert event.before["ip_allowlist"] == []
        assert event.after is not None
        assert event.after["ip_allowlist"] == ["2001:db8::/32"]

    async def test_changing_first_use_days_after_first_use_moves_the_expiry(
        self, session: Session, clock: datetime
    ) -> None:
        member = await make_member(session)
        key, secret = await make_key(session, member, expires_after_first_use_days=30)
        await keys_service.authenticate_key(session, secret)
        await session.refresh(key)
        assert key.first_used_at == clock
        assert key.use_expires_at == clock + timedelta(days=30)
        await keys_service.update_key(
            session, local_actor(), key_id=key.id, expires_after_first_use_days=7
        )
        assert key.use_expires_at == clock + timedelta(days=7)

    async def test_a_malformed_cidr_leaves_the_key_unchanged(self, session: Session) -> None:
        member = await make_member(session)
        key, _ = await make_key(session, member)
        with pytest.raises(errors.InvalidCidrError):
            await keys_service.update_key(
                session, local_actor(), key_id=key.id, ip_allowlist=["not-an-ip"]
            )
        assert key.ip_allowlist == []


class TestAuthenticateKey:
    async def test_a_valid_key_authenticates_and_records_its_use(
        self, session: Session, clock: datetime
    ) -> None:
        member = await make_member(session)
        key, secret = await make_key(session, member)
        found = await keys_service.authenticate_key(session, secret)
        assert found.id == key.id
        assert found.user.email == member.email
        await session.refresh(key)
        assert key.last_used_at == clock

    @pytest.mark.parametrize(
        "secret", ["", "sk-spectra-", "sk-spectra-nope", "st-spectra-abc", "Bearer x"]
    )
    async def test_an_unknown_or_malformed_key_is_invalid(
        self, session: Session, secret: str
    ) -> None:
        with pytest.raises(errors.InvalidApiKeyError) as caught:
            await keys_service.authenticate_key(session, secret)
        assert caught.value.code == "invalid_api_key"

    async def test_an_expired_key_is_refused(self, session: Session, clock: datetime) -> None:
        member = await make_member(session)
        _, secret = await make_key(session, member, expires_at=datetime(2026, 11, 16, tzinfo=UTC))
        clock_module.advance(timedelta(days=1))
        with pytest.raises(errors.KeyExpiredError) as caught:
            await keys_service.authenticate_key(session, secret)
        assert caught.value.code == "key_expired"

    async def test_a_key_expires_n_days_after_first_use(
        self, session: Session, clock: datetime
    ) -> None:
        member = await make_member(session)
        _, secret = await make_key(session, member, expires_after_first_use_days=3)
        clock_module.advance(timedelta(days=10))
        await keys_service.authenticate_key(session, secret)
        clock_module.advance(timedelta(days=3))
        with pytest.raises(errors.KeyExpiredError):
            await keys_service.authenticate_key(session, secret)

    async def test_an_allowlisted_key_is_refused_from_elsewhere(self, session: Session) -> None:
        member = await make_member(session)
        _, secret = await make_key(session, member, ip_allowlist=["10.0.0.0/8"])
        assert await keys_service.authenticate_key(session, secret, client_ip="10.9.9.9")
        for ip in ("192.168.1.1", None, "garbage"):
            with pytest.raises(errors.IpNotAllowedError):
                await keys_service.authenticate_key(session, secret, client_ip=ip)

    async def test_a_suspended_users_key_is_refused(self, session: Session) -> None:
        member = await make_member(session)
        _, secret = await make_key(session, member)
        member.status = "suspended"
        await session.flush()
        with pytest.raises(errors.UserSuspendedError):
            await keys_service.authenticate_key(session, secret)


class TestCreateToken:
    async def test_a_user_creates_a_read_only_token_for_themselves(
        self, session: Session, clock: datetime
    ) -> None:
        admin = await make_admin(session)
        token, secret = await keys_service.create_token(
            session, actor_for(admin), read_only=True, expires_at=clock + timedelta(days=30)
        )
        stored = (
            await session.execute(select(AdminToken).where(AdminToken.id == token.id))
        ).scalar_one()
        assert secret.startswith("st-spectra-")
        assert stored.hash == hash_secret(secret)
        assert (stored.user_id, stored.read_only) == (admin.id, True)
        event = await last_audit(session)
        assert (event.action, event.target_id) == ("tokens.create", str(token.id))
        assert secret not in str(event.after)

    async def test_nobody_creates_a_token_for_someone_else_over_the_api(
        self, session: Session
    ) -> None:
        owner = await make_member(session, role="owner")
        member = await make_member(session)
        with pytest.raises(errors.TokenForOtherUserError):
            await keys_service.create_token(session, actor_for(owner), user_id=member.id)

    async def test_the_local_command_creates_one_for_any_user(self, session: Session) -> None:
        member = await make_member(session)
        token, _ = await keys_service.create_token(session, local_actor(), user_email=member.email)
        assert token.user_id == member.id

    async def test_a_read_only_token_cannot_mint_tokens(self, session: Session) -> None:
        admin = await make_admin(session)
        with pytest.raises(ReadOnlyTokenError):
            await keys_service.create_token(session, actor_for(admin, read_only=True))

    async def test_a_suspended_user_gets_no_token(self, session: Session) -> None:
        member = await make_member(session, status="suspended")
        with pytest.raises(errors.KeyOwnerInactiveError):
            await make_token(session, member)


class TestListTokens:
    async def test_members_see_their_own_admins_see_all(self, session: Session) -> None:
        admin, alice, bob = (
            await make_admin(session),
            await make_member(session),
            await make_member(session),
        )
        mine, _ = await make_token(session, alice)
        theirs, _ = await make_token(session, bob)
        own = await keys_service.list_tokens(session, actor_for(alice))
        assert [t.id for t in own.items] == [mine.id]
        everyone = await keys_service.list_tokens(session, actor_for(admin))
        assert {mine.id, theirs.id} <= {t.id for t in everyone.items}
        with pytest.raises(PermissionDeniedError):
            await keys_service.list_tokens(session, actor_for(alice), user_id=bob.id)


class TestRevokeToken:
    async def test_a_user_revokes_their_token_and_it_stops_working(self, session: Session) -> None:
        member = await make_member(session)
        token, secret = await make_token(session, member)
        await keys_service.revoke_token(session, actor_for(member), token_id=token.id)
        assert token.status == "revoked"
        assert (await last_audit(session)).action == "tokens.revoke"
        with pytest.raises(errors.TokenRevokedError) as caught:
            await keys_service.authenticate_token(session, secret)
        assert caught.value.code == "token_revoked"

    async def test_a_member_cannot_revoke_another_members_token(self, session: Session) -> None:
        alice, bob = await make_member(session), await make_member(session)
        token, _ = await make_token(session, bob)
        with pytest.raises(PermissionDeniedError):
            await keys_service.revoke_token(session, actor_for(alice), token_id=token.id)

    async def test_an_unknown_token_is_not_found(self, session: Session) -> None:
        with pytest.raises(errors.TokenNotFoundError):
            await keys_service.revoke_token(session, local_actor(), token_id=uuid.uuid4())


class TestAuthenticateToken:
    async def test_a_valid_token_authenticates_with_its_user(
        self, session: Session, clock: datetime
    ) -> None:
        admin = await make_admin(session)
        token, secret = await make_token(session, admin, read_only=True)
        found = await keys_service.authenticate_token(session, secret)
        assert (found.id, found.user_id, found.read_only, found.user.role) == (
            token.id,
            admin.id,
            True,
            "admin",
        )
        await session.refresh(token)
        assert token.last_used_at == clock

    async def test_last_used_is_written_at_most_once_a_minute(
        self, session: Session, clock: datetime
    ) -> None:
        admin = await make_admin(session)
        token, secret = await make_token(session, admin)
        await keys_service.authenticate_token(session, secret)
        clock_module.advance(timedelta(seconds=30))
        await keys_service.authenticate_token(session, secret)
        await session.refresh(token)
        assert token.last_used_at == clock
        clock_module.advance(timedelta(seconds=31))
        await keys_service.authenticate_token(session, secret)
        await session.refresh(token)
        assert token.last_used_at == clock + timedelta(seconds=61)

    @pytest.mark.parametrize("secret", ["", "st-spectra-", "st-spectra-nope", "sk-spectra-abc"])
    async def test_an_unknown_token_is_invalid(self, session: Session, secret: str) -> None:
        with pytest.raises(errors.InvalidTokenError) as caught:
            await keys_service.authenticate_token(session, secret)
        assert caught.value.code == "invalid_token"

    async def test_an_expired_token_is_refused(self, session: Session, clock: datetime) -> None:
        admin = await make_admin(session)
        _, secret = await make_token(session, admin, expires_at=clock + timedelta(hours=1))
        clock_module.advance(timedelta(hours=1))
        with pytest.raises(errors.TokenExpiredError) as caught:
            await keys_service.authenticate_token(session, secret)
        assert caught.value.code == "token_expired"

    async def test_a_suspended_users_token_is_refused(self, session: Session) -> None:
        admin = await make_admin(session)
        _, secret = await make_token(session, admin)
        admin.status = "suspended"
        await session.flush()
        with pytest.raises(errors.UserSuspendedError):
            await keys_service.authenticate_token(session, secret)
