"""Looking users and groups up by email or name is the users service's, with one rule for every
surface: an actor who may not read everyone may name only themselves and their own group; any
other name, known or not, gets the same 403, so nobody can probe which accounts exist."""

from __future__ import annotations

import httpx
import pytest
from tests.factories import make_group, make_user

from spectra.audit.actor import Actor, local_actor, user_actor
from spectra.db.session import Session, session_scope
from spectra.keys import service as keys_service
from spectra.kit.clock import utc_now
from spectra.ledger import service as ledger_service
from spectra.ledger.errors import WalletOwnerNotFoundError
from spectra.runtime import Runtime
from spectra.usage import statements
from spectra.users import service as users_service
from spectra.users.errors import GroupNotFoundError, UserNotFoundError
from spectra.users.models import User
from spectra.users.permissions import PermissionDeniedError

UNKNOWN = "nobody-here@example.com"


def _actor(user: User) -> Actor:
    return user_actor(user_id=user.id, email=user.email, role=user.role, via="token")


class TestTheRuleInTheService:
    async def test_an_admin_learns_that_an_email_is_unknown(self, session: Session) -> None:
        actor = _actor(await make_user(session, role="admin"))
        assert await users_service.find_user(session, actor, email=UNKNOWN) is None
        with pytest.raises(UserNotFoundError):
            await users_service.require_user(session, actor, email=UNKNOWN)
        with pytest.raises(GroupNotFoundError):
            await users_service.require_group(session, actor, name="No Such Team")
        with pytest.raises(WalletOwnerNotFoundError):
            await ledger_service.resolve_owner(session, actor, user_email=UNKNOWN)

    async def test_a_member_gets_the_same_refusal_for_unknown_and_known_names(
        self, session: Session
    ) -> None:
        member = await make_user(session, role="member")
        other = await make_user(session, role="member")
        team = await make_group(session, name="Elsewhere")
        actor = _actor(member)
        with pytest.raises(PermissionDeniedError):
            await users_service.find_user(session, actor, email=UNKNOWN)
        with pytest.raises(PermissionDeniedError):
            await users_service.find_group(session, actor, name="No Such Team")

        async def wallet(email: str) -> None:
            user_id, _ = await ledger_service.resolve_owner(session, actor, user_email=email)
            await ledger_service.get_wallet(session, actor, user_id=user_id)

        async def statement(name: str) -> None:
            _, group_id = await statements.resolve_subject(session, actor, group_name=name)
            now = utc_now()
            await statements.build_statement(
                session, actor, group_id=group_id, since=now, until=now
            )

        # The unknown ones refuse exactly like the known ones the member may not read.
        for email in (UNKNOWN, other.email):
            with pytest.raises(PermissionDeniedError):
                await users_service.get_user(session, actor, user=email)
            with pytest.raises(PermissionDeniedError):
                await wallet(email)
            with pytest.raises(PermissionDeniedError):
                await keys_service.list_keys(session, actor, user_email=email)
        for name in ("No Such Team", team.name):
            with pytest.raises(PermissionDeniedError):
                await users_service.get_group(session, actor, group=name)
            with pytest.raises(PermissionDeniedError):
                await statement(name)

    async def test_a_member_still_finds_themselves(self, session: Session) -> None:
        member = await make_user(session, role="member")
        actor = _actor(member)
        found = await users_service.find_user(session, actor, email=member.email.upper())
        assert found is not None
        assert found.id == member.id
        owner = await users_service.resolve_owner(session, actor, user_email=member.email)
        assert (owner.user_id, owner.group_id) == (member.id, None)
        own = await users_service.find_group(session, actor, name=found.group.name.upper())
        assert own is not None
        assert own.id == member.group_id


MEMBER_PATHS = [
    ("/api/ledger/balance", "user_email"),
    ("/api/keys", "user_email"),
    ("/api/tokens", "user_email"),
    ("/api/usage", "user"),
    ("/api/usage/export", "user"),
    ("/api/usage/forecast", "user"),
    ("/api/statements", "user"),
]


@pytest.mark.parametrize(("path", "param"), MEMBER_PATHS)
async def test_over_http_a_member_cannot_tell_unknown_emails_from_known_ones(
    client: httpx.AsyncClient, runtime: Runtime, path: str, param: str
) -> None:
    async with session_scope(runtime.db) as session:
        member = await make_user(session, role="member")
        other = await make_user(session, role="member")
        _, secret = await keys_service.create_token(session, local_actor(), user_id=member.id)
    headers = {"authorization": f"Bearer {secret}"}
    known = await client.get(path, params={param: other.email}, headers=headers)
    unknown = await client.get(path, params={param: UNKNOWN}, headers=headers)
    assert known.status_code == unknown.status_code == 403, (known.text, unknown.text)
    assert known.json()["error"] == unknown.json()["error"]


async def test_over_http_users_and_groups_by_name_refuse_a_member_alike(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    async with session_scope(runtime.db) as session:
        member = await make_user(session, role="member")
        other = await make_user(session, role="member")
        team = await make_group(session, name="Elsewhere")
        _, secret = await keys_service.create_token(session, local_actor(), user_id=member.id)
    headers = {"authorization": f"Bearer {secret}"}
    answers = [
        await client.get(f"/api/users/{email}", headers=headers) for email in (other.email, UNKNOWN)
    ] + [await client.get(f"/api/groups/{name}", headers=headers) for name in (team.name, "Nope")]
    assert [a.status_code for a in answers] == [403] * 4, [a.text for a in answers]
    assert len({a.text for a in answers}) == 1
    assert (await client.get(f"/api/users/{member.email}", headers=headers)).status_code == 200


async def test_over_http_an_admin_is_told_an_email_is_unknown(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    async with session_scope(runtime.db) as session:
        admin = await make_user(session, role="admin")
        _, secret = await keys_service.create_token(session, local_actor(), user_id=admin.id)
    headers = {"authorization": f"Bearer {secret}"}
    for path, param in MEMBER_PATHS:
        answer = await client.get(path, params={param: UNKNOWN}, headers=headers)
        assert answer.status_code == 404, (path, answer.text)
