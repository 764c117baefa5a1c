"""The RBAC matrix: every route under /api (from the app's own route table) × every caller
kind, with real credentials (admin API tokens, a member key, a read-only token), checked
against the expected table in `tests/api/rbac_matrix.py`."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pyotp
import pytest
from fastapi.routing import iter_route_contexts
from tests.factories import make_group, make_user

from spectra.audit.actor import GATEWAY, local_actor, user_actor
from spectra.db.session import session_scope
from spectra.keys import service as keys_service
from spectra.kit.clock import utc_now
from spectra.kit.money import parse_amount
from spectra.ledger import service as ledger_service
from spectra.packages import service as packages_service
from spectra.packages.schemas import PackageCreate, PackageUpdate
from spectra.runtime import Runtime
from spectra.users import passwords
from spectra.users import service as users_service
from spectra.users.mfa import service as mfa_service
from spectra.users.mfa.models import TotpFactor
from spectra.workspace import service as workspace_service

from .rbac_matrix import (
    MATRIX,
    RANK_ACTORS,
    RANK_MATRIX,
    RANK_TARGETS,
    ROLES,
    Call,
    Case,
    fill,
)

PASSWORD = "rbac matrix password"
FOUR_EYES_THRESHOLD = "100"
"""Recharges above this wait for approval; the matrix's own recharges stay below it."""
DENIED_CODES = {"permission_denied", "read_only_token", "rank_too_low", "token_from_member_key"}
RANK_DENIED_CODES = DENIED_CODES | {"self_action", "token_for_other_user"}


def api_routes(app: Any) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        path = getattr(context, "path", "") or ""
        if not path.startswith("/api"):
            continue
        for method in getattr(context, "methods", None) or ():
            if method != "HEAD":
                found.add((method, path))
    return found


class Fixtures:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.password = PASSWORD
        self._n = itertools.count()
        self._hash = passwords.hash_password(PASSWORD)
        self.caller: Any = None
        """The user behind the credential under test (None for anonymous calls)."""

    def unique(self) -> str:
        return f"{next(self._n)}"

    async def user(self, *, status: str = "active", role: str = "member") -> Any:
        async with session_scope(self.runtime.db) as session:
            return await make_user(
                session,
                email=f"target-{self.unique()}-{role}@example.com",
                role=role,
                status=status,
                password_hash=self._hash,
            )

    async def group(self) -> Any:
        async with session_scope(self.runtime.db) as session:
            return await make_group(session, name=f"rbac-team-{self.unique()}")

    async def fresh_group(self) -> Any:
        """A new group (even where `group()` names a fixed one, as for team leads)."""
        return await Fixtures.group(self)

    async def user_in(self, group: Any) -> Any:
        """A fresh active member whose primary group is `group`."""
        async with session_scope(self.runtime.db) as session:
            return await make_user(
                session,
                email=f"target-{self.unique()}-member@example.com",
                group_id=group.id,
                password_hash=self._hash,
            )

    async def setup_token(self) -> str:
        async with session_scope(self.runtime.db) as session:
            issued = await users_service.invite_user(
                session, local_actor(), email=f"inv-{self.unique()}@example.com"
            )
            return issued.token

    async def mfa_challenge(self) -> tuple[str, str]:
        """A member with a confirmed authenticator app, past the password step: the challenge
        token and the current code."""
        seed = pyotp.random_base32()
        user = await self.user()
        async with session_scope(self.runtime.db) as session:
            sealed, version = mfa_service._seal(user.id, seed)
            session.add(
                TotpFactor(
                    user_id=user.id,
                    seed_ciphertext=sealed,
                    key_version=version,
                    confirmed_at=utc_now(),
                )
            )
            row = await users_service.get_user(session, local_actor(), user=user.id)
            pending = await users_service.create_session(
                session, user=row, second_factor_pending=True
            )
        return pending.token, pyotp.TOTP(seed).at(utc_now())

    async def key(self, user: Any) -> Any:
        async with session_scope(self.runtime.db) as session:
            key, _ = await keys_service.create_key(session, local_actor(), user_id=user.id)
            return key

    async def token(self, user: Any) -> Any:
        async with session_scope(self.runtime.db) as session:
            token, _ = await keys_service.create_token(session, local_actor(), user_id=user.id)
            return token

    async def fallback_chain(self) -> str:
        """A workspace fallback chain for a fresh model; returns the model."""
        from spectra.pool import fallbacks
        from spectra.pool.fallbacks import FallbackSet

        model = f"rbac-chained-{self.unique()}"
        async with session_scope(self.runtime.db) as session:
            await fallbacks.set_fallbacks(
                session, local_actor(), data=FallbackSet(model=model, chain=["rbac-next"])
            )
        return model

    async def alert_channel(self) -> Any:
        from spectra.alerts import service as alerts_service
        from spectra.alerts.schemas import ChannelCreate

        async with session_scope(self.runtime.db) as session:
            return await alerts_service.add_channel(
                session,
                local_actor(),
                data=ChannelCreate(
                    name=f"rbac-ch-{self.unique()}", kind="webhook", target="http://127.0.0.1:9/h"
                ),
            )

    async def alert_rule(self) -> Any:
        from spectra.alerts import service as alerts_service
        from spectra.alerts.schemas import RuleCreate

        async with session_scope(self.runtime.db) as session:
            return await alerts_service.add_rule(
                session, local_actor(), data=RuleCreate(event="group_cap", role="admin")
            )

    async def sso_provider(self) -> Any:
        from spectra.users.sso import service as sso_service
        from spectra.users.sso.schemas import ProviderCreate

        async with session_scope(self.runtime.db) as session:
            return await sso_service.add_provider(
                session,
                local_actor(),
                data=ProviderCreate(
                    name=f"rbac-sso-{self.unique()}",
                    issuer="http://127.0.0.1:9",
                    client_id="rbac",
                    client_secret="rbac-secret-0000",
                ),
            )

    async def pool_account(self) -> Any:
        from spectra.pool import service as pool_service
        from spectra.pool.schemas import AccountCreate

        async with session_scope(self.runtime.db) as session:
            return await pool_service.add_account(
                session,
                local_actor(),
                data=AccountCreate.model_validate(
                    {
                        "name": f"rbac-acct-{self.unique()}",
                        "provider": "anthropic",
                        "base_url": "http://127.0.0.1:9",
                        "api_key": "sk-ant-rbac-0000",
                        "models": ["claude-*"],
                    }
                ),
            )

    # ledger, codes and packages: everything made by the local command (owner rights), so the
    # caller under test is never the requester of what they decide on

    async def budgeted_key(self, user: Any, mode: str = "approval") -> Any:
        """A key of `user` with a daily budget in `mode`."""
        from spectra.budgets import service as budgets_service
        from spectra.budgets.schemas import KeyBudgetChange

        key = await self.key(user)
        async with session_scope(self.runtime.db) as session:
            await budgets_service.set_key_budget(
                session,
                local_actor(),
                key_id=key.id,
                changes=KeyBudgetChange.model_validate({"day": "1.00", "mode": mode}),
            )
        return key

    async def project(self) -> str:
        """A fresh project the caller is not in; returns its name."""
        from spectra.budgets import projects as projects_service

        name = f"rbac-project-{self.unique()}"
        async with session_scope(self.runtime.db) as session:
            await projects_service.create_project(session, local_actor(), name=name)
        return name

    async def pending_extension(self) -> Any:
        """An extension request by another member, on their approval-mode key."""
        from spectra.budgets import service as budgets_service

        user = await self.user()
        key = await self.budgeted_key(user)
        actor = user_actor(user_id=user.id, email=user.email, role="member", via="test")
        async with session_scope(self.runtime.db) as session:
            return await budgets_service.request_extension(
                session, actor, key_id=key.id, amount_micros=1_000_000
            )

    async def funded_user(self, amount: str = "50") -> Any:
        """A fresh member whose wallet holds `amount`."""
        user = await self.user()
        async with session_scope(self.runtime.db) as session:
            wallet = await ledger_service.wallet_account(session, user_id=user.id)
            funding = await ledger_service.get_or_create_account(session, kind="funding")
            micros = parse_amount(amount)
            await ledger_service.post(
                session,
                local_actor(),
                kind="grant",
                postings=[(funding.id, -micros), (wallet.id, micros)],
                idempotency_key=f"rbac-fund:{self.unique()}:{user.id}",
                memo="rbac funding",
            )
        return user

    async def usage(self) -> Any:
        """A usage transaction charged to a fresh member's wallet (refundable)."""
        user = await self.funded_user()
        async with session_scope(self.runtime.db) as session:
            wallet = await ledger_service.wallet_account(session, user_id=user.id)
            expense = await ledger_service.get_or_create_account(session, kind="usage_expense")
            return await ledger_service.post(
                session,
                GATEWAY,
                kind="usage",
                postings=[(wallet.id, -3_000_000), (expense.id, 3_000_000)],
                idempotency_key=f"rbac-usage:{self.unique()}:{user.id}",
                memo="rbac usage",
            )

    async def pending_approval(self) -> Any:
        """A recharge above the four-eyes threshold, requested by the local command."""
        user = await self.user()
        async with session_scope(self.runtime.db) as session:
            await workspace_service.set_setting(
                session, local_actor(), name="four_eyes_threshold", value=FOUR_EYES_THRESHOLD
            )
            outcome = await ledger_service.recharge(
                session,
                local_actor(),
                user_id=user.id,
                amount=parse_amount(FOUR_EYES_THRESHOLD) + 1_000_000,
                memo="rbac: needs a second person",
                idempotency_key=f"rbac-approval:{self.unique()}:{user.id}",
            )
        assert outcome.approval is not None
        return outcome.approval

    async def recharge_request(self, user: Any = None) -> Any:
        """A pending recharge request of `user` (default: a fresh member)."""
        user = user or await self.user()
        asker = user_actor(user_id=user.id, email=user.email, role="member", via="session")
        async with session_scope(self.runtime.db) as session:
            return await ledger_service.create_recharge_request(
                session, asker, amount=10_000_000, reason="rbac: running low"
            )

    async def code_batch(self, count: int = 1) -> Any:
        """A fresh batch of redemption codes (`.batch` and the plaintext `.codes`)."""
        async with session_scope(self.runtime.db) as session:
            return await ledger_service.create_codes(
                session, local_actor(), count=count, amount=5_000_000, memo="rbac"
            )

    async def package(self) -> Any:
        """A fresh active package (a PackageDetail: `.package.name`)."""
        async with session_scope(self.runtime.db) as session:
            return await packages_service.create_package(
                session,
                local_actor(),
                data=PackageCreate.model_validate(
                    {
                        "name": f"rbac-pkg-{self.unique()}",
                        "allowance": "20",
                        "period": "monthly",
                        "model_patterns": ["claude-sonnet-*"],
                    }
                ),
            )

    async def new_version(self, name: str) -> None:
        """Change a package's terms, so it has a version 2."""
        async with session_scope(self.runtime.db) as session:
            await packages_service.edit_package(
                session,
                local_actor(),
                name=name,
                data=PackageUpdate.model_validate({"allowance": "30"}),
            )

    async def assignment(self, package: str | None = None) -> Any:
        """A fresh member holding `package` (default: a fresh package); an AssignmentDetail."""
        name = package or (await self.package()).package.name
        user = await self.user()
        async with session_scope(self.runtime.db) as session:
            return await packages_service.assign_package(
                session, local_actor(), package=name, user_id=user.id
            )

    async def credential(self, kind: str) -> str:
        """A real secret for a caller of `kind`."""
        role = {"member_key": "member", "read_only": "owner"}.get(kind, kind)
        user = await self.user(role=role)
        self.caller = user
        async with session_scope(self.runtime.db) as session:
            if kind == "member_key":
                _, secret = await keys_service.create_key(session, local_actor(), user_id=user.id)
            else:
                _, secret = await keys_service.create_token(
                    session, local_actor(), user_id=user.id, read_only=kind == "read_only"
                )
        return secret


async def _call(
    client: httpx.AsyncClient, method: str, path: str, call: Call, headers: dict[str, str]
) -> httpx.Response:
    return await client.request(
        method, fill(path, call.path_params), json=call.json, params=call.params, headers=headers
    )


async def _caller(runtime: Runtime, kind: str) -> tuple[Fixtures, dict[str, str]]:
    """Fixtures and the auth header of a fresh caller of `kind`; another owner exists, so the
    workspace keeps one whatever the caller suspends, removes or demotes."""
    fx = Fixtures(runtime)
    await fx.user(role="owner")
    secret = await fx.credential(kind)
    return fx, {"authorization": f"Bearer {secret}"}


def _misjudged(where: str, allowed: bool, response: httpx.Response, denied: set[str]) -> list[str]:
    """[] when `response` is what `allowed` expects (2xx, or a 403 with a code in `denied`)."""
    code = _code(response)
    if allowed and response.status_code >= 400:
        return [f"{where} should be allowed, got {response.status_code} {code}"]
    if not allowed and (response.status_code != 403 or code not in denied):
        return [f"{where} should be denied (403), got {response.status_code} {code}"]
    return []


def test_every_api_route_has_an_entry(app: Any) -> None:
    served = api_routes(app)
    missing = sorted(served - set(MATRIX))
    stale = sorted(set(MATRIX) - served)
    assert not missing, "add these routes to tests/api/rbac_matrix.py: " + ", ".join(
        f"{m} {p}" for m, p in missing
    )
    assert not stale, "tests/api/rbac_matrix.py names routes the app does not serve: " + ", ".join(
        f"{m} {p}" for m, p in stale
    )


@pytest.mark.parametrize("kind", ROLES)
async def test_matrix(kind: str, runtime: Runtime, app: Any, client: httpx.AsyncClient) -> None:
    fx, headers = await _caller(runtime, kind)
    wrong: list[str] = []
    for (method, path), case in sorted(MATRIX.items()):
        if case.public or (method, path) not in api_routes(app):
            continue
        call = await case.prepare(fx)
        response = await _call(client, method, path, call, headers)
        wrong += _misjudged(f"{method} {path}: {kind}", kind in case.allow, response, DENIED_CODES)
    assert not wrong, "\n".join(wrong)


async def test_every_route_refuses_anonymous_callers_except_public_ones(
    runtime: Runtime, app: Any, client: httpx.AsyncClient
) -> None:
    fx = Fixtures(runtime)
    wrong: list[str] = []
    for (method, path), case in sorted(MATRIX.items()):
        if (method, path) not in api_routes(app):
            continue
        call = await case.prepare(fx)
        client.cookies.clear()  # signing in (a public route) sets a session cookie
        response = await _call(client, method, path, call, {})
        if case.public and response.status_code >= 400:
            wrong.append(f"{method} {path}: public, got {response.status_code} {_code(response)}")
        if not case.public and response.status_code != 401:
            wrong.append(f"{method} {path}: should need credentials, got {response.status_code}")
    assert not wrong, "\n".join(wrong)


def _code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("error", {}).get("code") if isinstance(body, dict) else None


@pytest.mark.parametrize("actor", RANK_ACTORS)
async def test_rank_matrix(actor: str, runtime: Runtime, client: httpx.AsyncClient) -> None:
    """Every credential and user-management action × target rank (and oneself) for one actor
    role: allowed calls succeed, the rest are a 403 (rank, permission or self)."""
    fx, headers = await _caller(runtime, actor)
    wrong: list[str] = []
    for (method, path), case in sorted(RANK_MATRIX.items()):
        for target_rank in RANK_TARGETS:
            if target_rank == "self":
                target = fx.caller
            else:
                target = await fx.user(role=target_rank, status=case.target_status)
            call = await case.prepare(fx, target)
            response = await _call(client, method, path.partition("#")[0], call, headers)
            wrong += _misjudged(
                f"{method} {path}: {actor} on {target_rank}",
                target_rank in case.allow[actor],
                response,
                RANK_DENIED_CODES,
            )
    assert not wrong, "\n".join(wrong)


def test_the_rank_table_names_every_actor() -> None:
    for key, case in RANK_MATRIX.items():
        assert set(case.allow) == set(RANK_ACTORS), key
        for targets in case.allow.values():
            assert targets <= set(RANK_TARGETS), key


def test_the_table_covers_every_role_per_entry() -> None:
    for key, case in MATRIX.items():
        assert isinstance(case, Case), key
        assert case.allow <= set(ROLES), f"{key} names an unknown caller kind"
