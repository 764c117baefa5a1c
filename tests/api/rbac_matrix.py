"""The expected allow/deny table of the REST API: every route under /api × every caller kind.

Each entry names the roles that may call the route; every other caller must get a 403. A route
the app serves without an entry here fails `test_every_api_route_has_an_entry` by name; add it
when you add the route. `prepare` builds a fresh request for one call (path parameters, body,
query) from `Fixtures`, so allowed calls succeed (2xx) and denials are about permission only.

Caller kinds: a user of each role through an admin API token, `member_key` (a member's
`sk-spectra-` key: self-service only) and `read_only` (an owner's read-only token).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

ROLES = ("owner", "admin", "billing", "auditor", "member", "member_key", "read_only")

EVERYONE = frozenset(ROLES)
SELF_WRITE = EVERYONE - {"read_only"}
READ_ALL = frozenset({"owner", "admin", "billing", "auditor", "read_only"})
AUDIT_READ = READ_ALL
USERS_WRITE = frozenset({"owner", "admin"})
KEYS_WRITE_ANY = USERS_WRITE
ROLES_WRITE = frozenset({"owner"})
BUDGETS_WRITE = frozenset({"owner", "admin", "billing"})
SETTINGS_WRITE = frozenset({"owner"})


class Fixtures(Protocol):
    """What `prepare` may use (tests/api/test_rbac.py implements it)."""

    password: str

    def unique(self) -> str: ...
    async def user(self, *, status: str = "active", role: str = "member") -> Any: ...
    async def group(self) -> Any: ...
    async def setup_token(self) -> str: ...
    async def mfa_challenge(self) -> tuple[str, str]: ...
    async def key(self, user: Any) -> Any: ...
    async def token(self, user: Any) -> Any: ...
    async def pool_account(self) -> Any: ...
    async def fallback_chain(self) -> str: ...
    async def sso_provider(self) -> Any: ...
    async def alert_channel(self) -> Any: ...
    async def alert_rule(self) -> Any: ...

    caller: Any
    """The user behind the credential under test (None when calling anonymously)."""

    async def funded_user(self, amount: str = "50") -> Any: ...
    async def budgeted_key(self, user: Any, mode: str = "approval") -> Any: ...
    async def project(self) -> str: ...
    async def pending_extension(self) -> Any: ...
    async def usage(self) -> Any: ...
    async def pending_approval(self) -> Any: ...
    async def recharge_request(self, user: Any = None) -> Any: ...
    async def code_batch(self, count: int = 1) -> Any: ...
    async def package(self) -> Any: ...
    async def new_version(self, name: str) -> None: ...
    async def assignment(self, package: str | None = None) -> Any: ...


@dataclass
class Call:
    path_params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    params: dict[str, Any] = field(default_factory=dict)


Prepare = Callable[[Fixtures], Awaitable[Call]]


async def _none(fx: Fixtures) -> Call:
    return Call()


@dataclass(frozen=True)
class Case:
    allow: frozenset[str]
    prepare: Prepare = _none
    public: bool = False
    """No credentials needed (sign-in, docs); checked anonymously instead of per role."""


def _user_call(status: str = "active", json: Callable[[Fixtures], Any] | None = None) -> Prepare:
    async def prepare(fx: Fixtures) -> Call:
        user = await fx.user(status=status)
        return Call({"user_ref": user.email}, json=json(fx) if json else None)

    return prepare


async def _new_user(fx: Fixtures) -> Call:
    return Call(json={"email": f"new-{fx.unique()}@example.com", "name": "New"})


async def _import(fx: Fixtures) -> Call:
    return Call(json={"csv": f"imp-{fx.unique()}@example.com,Imported,,\n"})


async def _group_ref(fx: Fixtures) -> Call:
    return Call({"group_ref": (await fx.group()).name})


async def _group_budget(fx: Fixtures) -> Call:
    return Call({"group_ref": (await fx.group()).name}, json={"monthly_cap": "120.00"})


async def _new_group(fx: Fixtures) -> Call:
    return Call(json={"name": f"team-{fx.unique()}"})


async def _login(fx: Fixtures) -> Call:
    user = await fx.user()
    return Call(json={"email": user.email, "password": fx.password})


async def _second_factor(fx: Fixtures) -> Call:
    challenge, code = await fx.mfa_challenge()
    return Call(json={"challenge": challenge, "code": code})


async def _sso_update(fx: Fixtures) -> Call:
    return Call({"name": (await fx.sso_provider()).name}, json={"client_id": "rbac-2"})


async def _setup(fx: Fixtures) -> Call:
    return Call(json={"token": await fx.setup_token(), "password": fx.password})


async def _my_password(fx: Fixtures) -> Call:
    return Call(json={"current_password": fx.password, "new_password": fx.password})


async def _key_for_other(fx: Fixtures) -> Call:
    user = await fx.user()
    return Call(json={"user_email": user.email, "name": "other's key"})


async def _others_key(fx: Fixtures) -> Call:
    key = await fx.key(await fx.user())
    return Call({"key_id": str(key.id)})


async def _others_key_rename(fx: Fixtures) -> Call:
    key = await fx.key(await fx.user())
    return Call({"key_id": str(key.id)}, json={"name": "renamed"})


async def _others_token(fx: Fixtures) -> Call:
    token = await fx.token(await fx.user())
    return Call({"token_id": str(token.id)})


async def _own_token(fx: Fixtures) -> Call:
    return Call(json={"name": f"t-{fx.unique()}"})


async def _setting(fx: Fixtures) -> Call:
    return Call({"name": "time_zone"}, json={"value": "Europe/Berlin"})


async def _sso_add(fx: Fixtures) -> Call:
    return Call(
        json={
            "name": f"sso-{fx.unique()}",
            "issuer": "http://127.0.0.1:9",
            "client_id": "rbac",
            "client_secret": "rbac-secret-0000",
        }
    )


async def _mark_read(fx: Fixtures) -> Call:
    return Call(json={})


async def _alert_channel_add(fx: Fixtures) -> Call:
    return Call(
        json={"name": f"ch-{fx.unique()}", "kind": "slack", "target": "http://127.0.0.1:9/s"}
    )


async def _alert_channel(fx: Fixtures) -> Call:
    return Call({"name": (await fx.alert_channel()).name})


async def _alert_rule_add(fx: Fixtures) -> Call:
    return Call(json={"event": "group_cap", "threshold_percent": 80, "role": "admin"})


async def _alert_rule(fx: Fixtures) -> Call:
    return Call({"rule_id": str((await fx.alert_rule()).id)})


async def _sso_provider(fx: Fixtures) -> Call:
    return Call({"name": (await fx.sso_provider()).name})


def _new_pool_account(fx: Fixtures) -> Any:
    return {
        "name": f"acct-{fx.unique()}",
        "provider": "anthropic",
        "base_url": "http://127.0.0.1:9",
        "api_key": "sk-ant-rbac-0000",
        "models": ["claude-*"],
    }


async def _pool_add(fx: Fixtures) -> Call:
    return Call(json=_new_pool_account(fx))


def _pool(json: Callable[[Fixtures], Any] | None = None) -> Prepare:
    async def prepare(fx: Fixtures) -> Call:
        account = await fx.pool_account()
        return Call({"account_id": str(account.id)}, json=json(fx) if json else None)

    return prepare


async def _pool_by_name(fx: Fixtures) -> Call:
    return Call({"name": (await fx.pool_account()).name})


POOL_WRITE = frozenset({"owner", "admin"})


async def _fallback_set(fx: Fixtures) -> Call:
    return Call(json={"model": f"rbac-model-{fx.unique()}", "chain": ["rbac-fallback"]})


async def _fallback_clear(fx: Fixtures) -> Call:
    return Call(params={"model": await fx.fallback_chain()})


async def _explain_other(fx: Fixtures) -> Call:
    user = await fx.user()
    return Call(params={"user": user.email, "model": "gpt-5"})


async def _group_funding(fx: Fixtures) -> Call:
    return Call({"group": (await fx.group()).name}, json={"wallet_fallback": False})


# --- ledger, codes and packages -------------------------------------------------------------
# Money moves need owner, admin or billing; packages need owner or admin. Self-service (own
# balance, requests, redemption, own packages) is for every signed-in caller; the self-service
# WRITES (a recharge request, redeeming a code) are refused to a read-only token.

LEDGER_RECHARGE = frozenset({"owner", "admin", "billing"})
LEDGER_APPROVE = LEDGER_RECHARGE
LEDGER_ADJUST = LEDGER_RECHARGE
CODES_WRITE = LEDGER_RECHARGE
PACKAGES_WRITE = frozenset({"owner", "admin"})


async def _others_balance(fx: Fixtures) -> Call:
    return Call(params={"user_email": (await fx.funded_user()).email})


async def _others_transactions(fx: Fixtures) -> Call:
    return Call(params={"user_id": str((await fx.funded_user()).id)})


async def _transaction(fx: Fixtures) -> Call:
    return Call({"transaction_id": str((await fx.usage()).id)})


async def _recharge(fx: Fixtures) -> Call:
    # below the four-eyes threshold, so an allowed caller's recharge is credited at once
    user = await fx.user()
    return Call(json={"user_email": user.email, "amount": "5.00", "memo": "rbac"})


async def _approval(fx: Fixtures) -> Call:
    # requested by the local command, so the caller is never the requester (four-eyes)
    return Call({"approval_id": str((await fx.pending_approval()).id)}, json={"note": "rbac"})


async def _new_recharge_request(fx: Fixtures) -> Call:
    return Call(json={"amount": "10.00", "reason": "rbac: running low"})


async def _own_recharge_request(fx: Fixtures) -> Call:
    # the caller's own: anyone may read theirs; another member's is a 404 for a member, not a
    # 403 (tests/ledger: test_a_member_cannot_see_another_members_request)
    request = await fx.recharge_request(fx.caller)
    return Call({"request_id": str(request.id)})


async def _others_recharge_request(fx: Fixtures) -> Call:
    request = await fx.recharge_request()
    return Call({"request_id": str(request.id)}, json={"note": "rbac"})


async def _adjustment(fx: Fixtures) -> Call:
    user = await fx.user()
    return Call(json={"user_email": user.email, "amount": "2.00", "reason": "rbac"})


async def _transfer(fx: Fixtures) -> Call:
    source, target = await fx.funded_user(), await fx.user()
    return Call(
        json={
            "source": {"user_email": source.email},
            "target": {"user_email": target.email},
            "amount": "1.00",
            "memo": "rbac",
        }
    )


async def _refund(fx: Fixtures) -> Call:
    return Call(json={"transaction_id": str((await fx.usage()).id), "reason": "rbac"})


async def _threshold(fx: Fixtures) -> Call:
    user = await fx.user()
    return Call(json={"user_email": user.email, "threshold": "3.00"})


async def _new_codes(fx: Fixtures) -> Call:
    return Call(json={"count": 2, "amount": "5.00", "memo": "rbac"})


async def _code_batch(fx: Fixtures) -> Call:
    return Call({"batch_id": str((await fx.code_batch(count=2)).batch.id)})


async def _redeem(fx: Fixtures) -> Call:
    return Call(json={"code": (await fx.code_batch()).codes[0]})


def _package(json: Callable[[Fixtures], Any] | None = None) -> Prepare:
    async def prepare(fx: Fixtures) -> Call:
        name = (await fx.package()).package.name
        return Call({"name": name}, json=json(fx) if json else None)

    return prepare


POLICY_WRITE = frozenset({"owner", "admin"})


def _runtime(fx: Fixtures) -> Any:
    return cast(Any, fx).runtime


async def _policy_group(fx: Fixtures) -> Call:
    return Call({"group": (await fx.group()).name})


async def _new_draft_body(fx: Fixtures) -> Call:
    group = await fx.group()
    return Call(json={"group": group.name, "changes": {"denied_models": ["claude-opus-*"]}})


async def _a_draft(fx: Fixtures) -> Any:
    from spectra.audit.actor import local_actor
    from spectra.db.session import session_scope
    from spectra.policy import drafts as drafts_service
    from spectra.policy.schemas import GroupPolicyChange

    group = await fx.group()
    async with session_scope(_runtime(fx).db) as session:
        return await drafts_service.create_draft(
            session,
            local_actor(),
            group=group.name,
            change=GroupPolicyChange(denied_models=["claude-opus-*"]),
        )


def _draft(json: Any = None) -> Prepare:
    async def prepare(fx: Fixtures) -> Call:
        return Call({"draft_id": str((await _a_draft(fx)).id)}, json=json)

    return prepare


async def _new_package(fx: Fixtures) -> Call:
    return Call(
        json={
            "name": f"pkg-{fx.unique()}",
            "allowance": "20",
            "period": "monthly",
            "model_patterns": ["claude-sonnet-*"],
        }
    )


async def _assign(fx: Fixtures) -> Call:
    name = (await fx.package()).package.name
    return Call({"name": name}, json={"email": (await fx.user()).email})


async def _assign_bulk(fx: Fixtures) -> Call:
    name = (await fx.package()).package.name
    users = [await fx.user(), await fx.user()]
    return Call({"name": name}, json={"emails": [u.email for u in users]})


async def _migrate(fx: Fixtures) -> Call:
    held = await fx.assignment()
    await fx.new_version(held.package_name)
    return Call({"name": held.package_name}, json={"to_version": 2, "reason": "rbac"})


async def _import_assignments(fx: Fixtures) -> Call:
    name = (await fx.package()).package.name
    user = await fx.user()
    return Call(json={"csv": f"email,package\n{user.email},{name}\n"})


async def _assignment(fx: Fixtures) -> Call:
    return Call({"assignment_id": str((await fx.assignment()).assignment.id)})


async def _cancel_assignment(fx: Fixtures) -> Call:
    held = await fx.assignment()
    return Call({"assignment_id": str(held.assignment.id)}, json={"when": "now"})


async def _group_default(fx: Fixtures) -> Call:
    group, package = await fx.group(), await fx.package()
    return Call({"group": group.name}, json={"package": package.package.name})


async def _others_packages(fx: Fixtures) -> Call:
    held = await fx.assignment()
    assert held.email is not None
    return Call({"user": held.email})


PRICES_WRITE = frozenset({"owner", "admin"})


async def _usage_export(fx: Fixtures) -> Call:
    return Call(params={"format": "jsonl"})


async def _usage_report(fx: Fixtures) -> Call:
    return Call(params={"by": "model"})


async def _price_of(fx: Fixtures) -> Call:
    return Call({"model": "claude-sonnet-4-5"})


async def _price_set(fx: Fixtures) -> Call:
    return Call(json={"model": f"house-model-{fx.unique()}", "input": "1.00", "output": "2.00"})


async def _others_statement(fx: Fixtures) -> Call:
    user = await fx.user()
    return Call(params={"user": user.email, "since": "2026-11-01", "until": "2026-12-01"})


def _rollout_body(fx: Fixtures, group: str) -> dict[str, Any]:
    return {
        "name": f"rollout-{fx.unique()}",
        "goal": "rbac",
        "cohorts": [{"name": "pilot", "groups": [group], "models": ["claude-opus-*"]}],
    }


async def _new_rollout(fx: Fixtures) -> Call:
    return Call(json=_rollout_body(fx, (await fx.group()).name))


async def _a_rollout(fx: Fixtures, *, promoted: bool = False) -> str:
    from spectra.audit.actor import local_actor
    from spectra.db.session import session_scope
    from spectra.policy import rollouts as rollouts_service
    from spectra.policy.schemas import RolloutCreate

    data = RolloutCreate.model_validate(_rollout_body(fx, (await fx.group()).name))
    async with session_scope(_runtime(fx).db) as session:
        await rollouts_service.create_rollout(session, local_actor(), data=data)
        if promoted:
            await rollouts_service.promote(
                session, local_actor(), rollout=data.name, confirmed_without_dry_run=True
            )
    return data.name


def _rollout(json: Any = None, *, promoted: bool = False) -> Prepare:
    async def prepare(fx: Fixtures) -> Call:
        return Call({"rollout": await _a_rollout(fx, promoted=promoted)}, json=json)

    return prepare


async def _rollout_person(fx: Fixtures) -> Call:
    user = await fx.user()
    return Call({"rollout": await _a_rollout(fx)}, json={"user": user.email})


async def _rollout_watcher(fx: Fixtures) -> Call:
    from spectra.audit.actor import local_actor
    from spectra.db.session import session_scope
    from spectra.policy import rollout_people

    name, user = await _a_rollout(fx), await fx.user()
    async with session_scope(_runtime(fx).db) as session:
        await rollout_people.add_watcher(session, local_actor(), rollout=name, user=user.email)
    return Call({"rollout": name, "user": user.email})


async def _lead_set(fx: Fixtures) -> Call:
    # the user must belong to the group: a fresh member made in it
    group = await fx.group()
    user = await cast(Any, fx).user_in(group)
    return Call({"group_ref": group.name, "user_ref": user.email}, json={"approval_limit": "25"})


async def _lead_existing(fx: Fixtures) -> Call:
    from spectra.audit.actor import local_actor
    from spectra.db.session import session_scope
    from spectra.users import service as users_service

    group = await fx.group()
    user = await cast(Any, fx).user_in(group)
    async with session_scope(_runtime(fx).db) as session:
        await users_service.set_lead(session, local_actor(), group=group.id, user=user.id)
    return Call({"group_ref": group.name, "user_ref": user.email})


async def _membership_add(fx: Fixtures) -> Call:
    user, group = await fx.user(), await cast(Any, fx).fresh_group()
    return Call({"user_ref": user.email}, json={"group": group.name})


async def _membership_existing(fx: Fixtures) -> Call:
    from spectra.audit.actor import local_actor
    from spectra.db.session import session_scope
    from spectra.users import service as users_service

    user, group = await fx.user(), await cast(Any, fx).fresh_group()
    async with session_scope(_runtime(fx).db) as session:
        await users_service.add_membership(session, local_actor(), user=user.id, group=group.id)
    return Call({"user_ref": user.email, "group_ref": group.name})


async def _budgeted_other(fx: Fixtures) -> Call:
    key = await fx.budgeted_key(await fx.user())
    return Call({"key_id": str(key.id)})


async def _budget_set(fx: Fixtures) -> Call:
    key = await fx.key(await fx.user())
    return Call({"key_id": str(key.id)}, json={"day": "5.00", "rpm": 30})


async def _my_extension(fx: Fixtures) -> Call:
    key = await fx.budgeted_key(fx.caller or await fx.user())
    return Call(json={"key_id": str(key.id), "amount": "2.00", "reason": "rbac"})


def _decide(approve: bool) -> Prepare:
    async def prepare(fx: Fixtures) -> Call:
        ext = await fx.pending_extension()
        body = {"expires_at": "2099-01-01T00:00:00+00:00"} if approve else None
        return Call({"extension_id": str(ext.id)}, json=body)

    return prepare


async def _new_project(fx: Fixtures) -> Call:
    return Call(json={"name": f"new-project-{fx.unique()}", "budget": "100.00"})


def _project(json: Callable[[Fixtures], Awaitable[Any]] | None = None) -> Prepare:
    async def prepare(fx: Fixtures) -> Call:
        name = await fx.project()
        return Call({"name": name}, json=await json(fx) if json else None)

    return prepare


async def _project_member(fx: Fixtures) -> Any:
    return {"email": (await fx.user()).email}


async def _project_key(fx: Fixtures) -> Any:
    return {"key_id": str((await fx.key(await fx.user())).id)}


async def _project_budget(fx: Fixtures) -> Any:
    return {"budget": "50.00", "mode": "soft"}


MATRIX: dict[tuple[str, str], Case] = {
    ("GET", "/api/budgets/keys"): Case(EVERYONE),
    ("GET", "/api/budgets/keys/{key_id}"): Case(READ_ALL, _budgeted_other),
    ("PATCH", "/api/budgets/keys/{key_id}"): Case(BUDGETS_WRITE, _budget_set),
    ("DELETE", "/api/budgets/keys/{key_id}"): Case(BUDGETS_WRITE, _budgeted_other),
    ("GET", "/api/budgets/extensions"): Case(EVERYONE),
    ("POST", "/api/budgets/extensions"): Case(SELF_WRITE, _my_extension),
    ("POST", "/api/budgets/extensions/{extension_id}/approve"): Case(BUDGETS_WRITE, _decide(True)),
    ("POST", "/api/budgets/extensions/{extension_id}/reject"): Case(BUDGETS_WRITE, _decide(False)),
    ("GET", "/api/projects"): Case(EVERYONE),
    ("POST", "/api/projects"): Case(BUDGETS_WRITE, _new_project),
    ("GET", "/api/projects/{name}"): Case(READ_ALL, _project()),
    ("PATCH", "/api/projects/{name}"): Case(BUDGETS_WRITE, _project(_project_budget)),
    ("DELETE", "/api/projects/{name}"): Case(BUDGETS_WRITE, _project()),
    ("POST", "/api/projects/{name}/members"): Case(BUDGETS_WRITE, _project(_project_member)),
    ("POST", "/api/projects/{name}/keys"): Case(BUDGETS_WRITE, _project(_project_key)),
    ("GET", "/api/projects/{name}/report"): Case(READ_ALL, _project()),
    ("GET", "/api/openapi.json"): Case(EVERYONE, public=True),
    ("GET", "/api/docs"): Case(EVERYONE, public=True),
    # auth: signing in needs no credentials
    ("POST", "/api/auth/login"): Case(EVERYONE, _login, public=True),
    ("POST", "/api/auth/login/second-factor"): Case(EVERYONE, _second_factor, public=True),
    ("POST", "/api/auth/logout"): Case(EVERYONE, public=True),
    ("POST", "/api/auth/setup"): Case(EVERYONE, _setup, public=True),
    # me
    ("GET", "/api/me"): Case(EVERYONE),
    ("POST", "/api/me/password"): Case(SELF_WRITE, _my_password),
    # users (the target is always another, fresh member)
    ("GET", "/api/users"): Case(READ_ALL),
    ("POST", "/api/users"): Case(USERS_WRITE, _new_user),
    ("POST", "/api/users/import"): Case(USERS_WRITE, _import),
    ("GET", "/api/users/{user_ref}"): Case(READ_ALL, _user_call()),
    ("PATCH", "/api/users/{user_ref}"): Case(
        USERS_WRITE, _user_call(json=lambda fx: {"name": "Renamed"})
    ),
    ("DELETE", "/api/users/{user_ref}"): Case(USERS_WRITE, _user_call()),
    ("POST", "/api/users/{user_ref}/suspend"): Case(
        USERS_WRITE, _user_call(json=lambda fx: {"reason": "rbac"})
    ),
    ("POST", "/api/users/{user_ref}/reactivate"): Case(USERS_WRITE, _user_call("suspended")),
    ("POST", "/api/users/{user_ref}/role"): Case(
        ROLES_WRITE, _user_call(json=lambda fx: {"role": "auditor"})
    ),
    ("POST", "/api/users/{user_ref}/group"): Case(
        USERS_WRITE, _user_call(json=lambda fx: {"group": "default"})
    ),
    ("POST", "/api/users/{user_ref}/password"): Case(
        USERS_WRITE, _user_call(json=lambda fx: {"password": fx.password})
    ),
    ("POST", "/api/users/{user_ref}/setup-link"): Case(USERS_WRITE, _user_call("invited")),
    ("POST", "/api/users/{user_ref}/mfa/reset"): Case(USERS_WRITE, _user_call()),
    # groups (never the caller's own group)
    ("GET", "/api/groups"): Case(READ_ALL),
    ("POST", "/api/groups"): Case(USERS_WRITE, _new_group),
    ("GET", "/api/groups/{group_ref}"): Case(READ_ALL, _group_ref),
    ("PATCH", "/api/groups/{group_ref}"): Case(BUDGETS_WRITE, _group_budget),
    # team leads (appointed by admins) and a user's secondary groups
    ("GET", "/api/groups/{group_ref}/leads"): Case(READ_ALL, _group_ref),
    ("PUT", "/api/groups/{group_ref}/leads/{user_ref}"): Case(USERS_WRITE, _lead_set),
    ("DELETE", "/api/groups/{group_ref}/leads/{user_ref}"): Case(USERS_WRITE, _lead_existing),
    ("GET", "/api/users/{user_ref}/groups"): Case(READ_ALL, _user_call()),
    ("POST", "/api/users/{user_ref}/groups"): Case(USERS_WRITE, _membership_add),
    ("DELETE", "/api/users/{user_ref}/groups/{group_ref}"): Case(USERS_WRITE, _membership_existing),
    # audit
    ("GET", "/api/audit/events"): Case(AUDIT_READ),
    ("GET", "/api/audit/export"): Case(AUDIT_READ),
    ("GET", "/api/audit/verify"): Case(AUDIT_READ),
    # keys (another member's) and tokens
    ("GET", "/api/keys"): Case(EVERYONE),
    ("POST", "/api/keys"): Case(KEYS_WRITE_ANY, _key_for_other),
    ("GET", "/api/keys/{key_id}"): Case(READ_ALL, _others_key),
    ("PATCH", "/api/keys/{key_id}"): Case(KEYS_WRITE_ANY, _others_key_rename),
    ("POST", "/api/keys/{key_id}/revoke"): Case(KEYS_WRITE_ANY, _others_key),
    ("POST", "/api/keys/{key_id}/rotate"): Case(KEYS_WRITE_ANY, _others_key),
    ("GET", "/api/tokens"): Case(EVERYONE),
    ("POST", "/api/tokens"): Case(SELF_WRITE - {"member_key"}, _own_token),
    ("POST", "/api/tokens/{token_id}/revoke"): Case(KEYS_WRITE_ANY, _others_token),
    ("POST", "/api/tokens/scim"): Case(USERS_WRITE, _own_token),
    # account pool (the member view is the redacted status)
    ("GET", "/api/pool/accounts"): Case(READ_ALL),
    ("GET", "/api/fallbacks"): Case(READ_ALL),
    ("PUT", "/api/fallbacks"): Case(POOL_WRITE, _fallback_set),
    ("DELETE", "/api/fallbacks"): Case(POOL_WRITE, _fallback_clear),
    ("POST", "/api/pool/accounts"): Case(POOL_WRITE, _pool_add),
    ("GET", "/api/pool/accounts/by-name/{name}"): Case(READ_ALL, _pool_by_name),
    ("GET", "/api/pool/accounts/{account_id}"): Case(READ_ALL, _pool()),
    ("PATCH", "/api/pool/accounts/{account_id}"): Case(
        POOL_WRITE, _pool(lambda fx: {"weight": 50})
    ),
    ("POST", "/api/pool/accounts/{account_id}/credential"): Case(
        POOL_WRITE, _pool(lambda fx: {"api_key": "sk-ant-rotated-1111", "probe": False})
    ),
    ("POST", "/api/pool/accounts/{account_id}/test"): Case(POOL_WRITE, _pool()),
    ("POST", "/api/pool/accounts/{account_id}/disable"): Case(
        POOL_WRITE, _pool(lambda fx: {"reason": "rbac"})
    ),
    ("POST", "/api/pool/accounts/{account_id}/enable"): Case(POOL_WRITE, _pool()),
    ("POST", "/api/pool/accounts/{account_id}/reset"): Case(POOL_WRITE, _pool()),
    ("GET", "/api/pool/accounts/{account_id}/history"): Case(READ_ALL, _pool()),
    ("GET", "/api/pool/alerts"): Case(READ_ALL),
    ("GET", "/api/pool/status"): Case(EVERYONE),
    # usage and prices (members see their own records; reports need READ_ALL)
    ("GET", "/api/usage"): Case(EVERYONE),
    ("GET", "/api/usage/export"): Case(EVERYONE, _usage_export),
    ("GET", "/api/usage/report"): Case(READ_ALL, _usage_report),
    ("GET", "/api/usage/timeseries"): Case(READ_ALL),
    ("GET", "/api/usage/adoption"): Case(READ_ALL),
    # counting pending records into the rollups changes no figure, so readers may ask for it
    ("POST", "/api/usage/rollup"): Case(READ_ALL),
    ("GET", "/api/prices"): Case(EVERYONE),
    ("GET", "/api/prices/{model}"): Case(EVERYONE, _price_of),
    ("POST", "/api/prices"): Case(PRICES_WRITE, _price_set),
    ("PUT", "/api/prices"): Case(PRICES_WRITE, _price_set),
    # workspace settings
    ("GET", "/api/settings"): Case(READ_ALL),
    ("PUT", "/api/settings/{name}"): Case(SETTINGS_WRITE, _setting),
    # single sign-on providers (a workspace setting; `test` only reads)
    ("GET", "/api/alerts"): Case(READ_ALL),
    ("GET", "/api/alerts/events"): Case(READ_ALL),
    ("GET", "/api/alerts/deliveries"): Case(READ_ALL),
    ("GET", "/api/alerts/channels"): Case(READ_ALL),
    ("POST", "/api/alerts/channels"): Case(BUDGETS_WRITE, _alert_channel_add),
    ("DELETE", "/api/alerts/channels/{name}"): Case(BUDGETS_WRITE, _alert_channel),
    ("POST", "/api/alerts/channels/{name}/test"): Case(BUDGETS_WRITE, _alert_channel),
    ("GET", "/api/alerts/rules"): Case(READ_ALL),
    ("POST", "/api/alerts/rules"): Case(BUDGETS_WRITE, _alert_rule_add),
    ("DELETE", "/api/alerts/rules/{rule_id}"): Case(BUDGETS_WRITE, _alert_rule),
    ("GET", "/api/me/notifications"): Case(EVERYONE),
    ("POST", "/api/me/notifications/read"): Case(SELF_WRITE, _mark_read),
    ("GET", "/api/sso/providers"): Case(READ_ALL),
    ("POST", "/api/sso/providers"): Case(SETTINGS_WRITE, _sso_add),
    ("GET", "/api/sso/providers/{name}"): Case(READ_ALL, _sso_provider),
    ("PATCH", "/api/sso/providers/{name}"): Case(SETTINGS_WRITE, _sso_update),
    ("DELETE", "/api/sso/providers/{name}"): Case(SETTINGS_WRITE, _sso_provider),
    ("POST", "/api/sso/providers/{name}/test"): Case(READ_ALL, _sso_provider),
    # policy (explaining another member's access; a group's funding switches)
    ("GET", "/api/policy/explain"): Case(READ_ALL, _explain_other),
    ("PATCH", "/api/policy/groups/{group}"): Case(USERS_WRITE, _group_funding),
    # ledger: balances and transactions (another member's wallet; your own is self-service)
    ("GET", "/api/ledger/balance"): Case(READ_ALL, _others_balance),
    ("GET", "/api/ledger/transactions"): Case(READ_ALL, _others_transactions),
    ("GET", "/api/ledger/transactions/{transaction_id}"): Case(READ_ALL, _transaction),
    ("GET", "/api/ledger/verify"): Case(READ_ALL),
    # ledger: recharges and four-eyes approvals
    ("POST", "/api/ledger/recharges"): Case(LEDGER_RECHARGE, _recharge),
    ("GET", "/api/ledger/approvals"): Case(READ_ALL),
    ("POST", "/api/ledger/approvals/{approval_id}/approve"): Case(LEDGER_APPROVE, _approval),
    ("POST", "/api/ledger/approvals/{approval_id}/reject"): Case(LEDGER_APPROVE, _approval),
    # ledger: member recharge requests (ask and read your own; billing decides on others')
    ("POST", "/api/ledger/recharge-requests"): Case(SELF_WRITE, _new_recharge_request),
    ("GET", "/api/ledger/recharge-requests"): Case(EVERYONE),
    ("GET", "/api/ledger/recharge-requests/{request_id}"): Case(EVERYONE, _own_recharge_request),
    ("POST", "/api/ledger/recharge-requests/{request_id}/approve"): Case(
        LEDGER_APPROVE, _others_recharge_request
    ),
    ("POST", "/api/ledger/recharge-requests/{request_id}/reject"): Case(
        LEDGER_APPROVE, _others_recharge_request
    ),
    # ledger: adjustments, transfers, refunds of usage, low-balance thresholds and notices
    ("POST", "/api/ledger/adjustments"): Case(LEDGER_ADJUST, _adjustment),
    ("POST", "/api/ledger/transfers"): Case(LEDGER_ADJUST, _transfer),
    ("POST", "/api/ledger/refunds"): Case(LEDGER_ADJUST, _refund),
    ("PUT", "/api/ledger/thresholds"): Case(BUDGETS_WRITE, _threshold),
    ("GET", "/api/ledger/notices"): Case(READ_ALL),
    # redemption codes (anyone signed in may redeem into their own wallet)
    ("POST", "/api/codes/batches"): Case(CODES_WRITE, _new_codes),
    ("GET", "/api/codes/batches"): Case(READ_ALL),
    ("POST", "/api/codes/batches/{batch_id}/revoke"): Case(CODES_WRITE, _code_batch),
    ("POST", "/api/codes/redeem"): Case(SELF_WRITE, _redeem),
    # packages: the catalog and its versions
    ("GET", "/api/packages"): Case(READ_ALL),
    ("POST", "/api/packages"): Case(PACKAGES_WRITE, _new_package),
    ("GET", "/api/packages/{name}"): Case(READ_ALL, _package()),
    ("PATCH", "/api/packages/{name}"): Case(
        PACKAGES_WRITE, _package(lambda fx: {"allowance": "25"})
    ),
    ("POST", "/api/packages/{name}/archive"): Case(PACKAGES_WRITE, _package()),
    ("GET", "/api/packages/{name}/versions"): Case(READ_ALL, _package()),
    # packages: assignments (always to other, fresh members), migration, group defaults
    ("POST", "/api/packages/{name}/assignments"): Case(PACKAGES_WRITE, _assign),
    ("POST", "/api/packages/{name}/assignments/bulk"): Case(PACKAGES_WRITE, _assign_bulk),
    ("POST", "/api/packages/{name}/migrate"): Case(PACKAGES_WRITE, _migrate),
    ("POST", "/api/package-assignments/import"): Case(PACKAGES_WRITE, _import_assignments),
    ("GET", "/api/package-assignments"): Case(READ_ALL),
    ("GET", "/api/package-assignments/{assignment_id}"): Case(READ_ALL, _assignment),
    ("POST", "/api/package-assignments/{assignment_id}/cancel"): Case(
        PACKAGES_WRITE, _cancel_assignment
    ),
    ("GET", "/api/group-default-packages"): Case(READ_ALL),
    ("PUT", "/api/groups/{group}/default-package"): Case(PACKAGES_WRITE, _group_default),
    # packages: what a member holds (their own: self-service; another's: read rights)
    ("GET", "/api/me/packages"): Case(EVERYONE),
    ("GET", "/api/users/{user}/packages"): Case(READ_ALL, _others_packages),
    # statements, forecasts, pool economics (another user's statement: members are denied)
    ("GET", "/api/statements"): Case(READ_ALL, _others_statement),
    ("GET", "/api/usage/forecast"): Case(READ_ALL),
    ("GET", "/api/usage/economics"): Case(READ_ALL),
    ("GET", "/api/usage/reconcile"): Case(READ_ALL),
    # policy (group policy, drafts, dry-runs, publish) and rollouts
    ("GET", "/api/policy/groups/{group}"): Case(READ_ALL, _policy_group),
    ("POST", "/api/policy/drafts"): Case(POLICY_WRITE, _new_draft_body),
    ("GET", "/api/policy/drafts"): Case(READ_ALL),
    ("GET", "/api/policy/drafts/{draft_id}"): Case(READ_ALL, _draft()),
    ("POST", "/api/policy/drafts/{draft_id}/dry-run"): Case(POLICY_WRITE, _draft({"days": 7})),
    ("POST", "/api/policy/drafts/{draft_id}/publish"): Case(
        POLICY_WRITE, _draft({"confirm_without_dry_run": True})
    ),
    ("POST", "/api/policy/drafts/{draft_id}/discard"): Case(POLICY_WRITE, _draft()),
    ("POST", "/api/rollouts"): Case(POLICY_WRITE, _new_rollout),
    ("GET", "/api/rollouts"): Case(READ_ALL),
    ("GET", "/api/rollouts/{rollout}"): Case(READ_ALL, _rollout()),
    ("GET", "/api/rollouts/{rollout}/metrics"): Case(READ_ALL, _rollout()),
    ("POST", "/api/rollouts/{rollout}/promote"): Case(
        POLICY_WRITE, _rollout({"confirm_without_dry_run": True})
    ),
    ("POST", "/api/rollouts/{rollout}/rollback"): Case(POLICY_WRITE, _rollout(promoted=True)),
    ("PUT", "/api/rollouts/{rollout}/autopilot"): Case(POLICY_WRITE, _rollout({"on": True})),
    ("POST", "/api/rollouts/{rollout}/approve"): Case(POLICY_WRITE, _rollout()),
    ("GET", "/api/rollouts/{rollout}/timeline"): Case(READ_ALL, _rollout()),
    ("GET", "/api/rollouts/{rollout}/people"): Case(READ_ALL, _rollout()),
    ("PUT", "/api/rollouts/{rollout}/owner"): Case(POLICY_WRITE, _rollout_person),
    ("POST", "/api/rollouts/{rollout}/watchers"): Case(POLICY_WRITE, _rollout_person),
    ("DELETE", "/api/rollouts/{rollout}/watchers/{user}"): Case(POLICY_WRITE, _rollout_watcher),
}


def fill(path: str, params: dict[str, str]) -> str:
    """The concrete URL path for a route template."""
    for name, value in params.items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, f"prepare() left a path parameter unfilled in {path}"
    return path


def new_id() -> str:
    return str(uuid.uuid4())


# --- rank: acting on another user ------------------------------------------------------------
# Every credential and user-management action × actor role × target rank (and the actor
# themselves). Whoever holds a user's password, set-up link, key or token IS that user, so
# nobody touches the credentials or email of an equal or higher rank; owners may still
# suspend, reactivate, remove, rename or move each other. Acting on oneself follows the role's
# own permission (an admin may set their own password; nobody suspends themselves).

RANK_ACTORS = ("owner", "admin", "billing", "auditor", "member")
RANK_TARGETS = ("member", "billing", "auditor", "admin", "owner", "self")

_BELOW = {
    "owner": frozenset({"member", "billing", "auditor", "admin"}),
    "admin": frozenset({"member", "billing", "auditor"}),
}
_BELOW_OR_OWNER = {"owner": _BELOW["owner"] | {"owner"}, "admin": _BELOW["admin"]}
STRONG_PASSWORD = "violet anchor mountain ledger"


@dataclass(frozen=True)
class RankCase:
    allow: dict[str, frozenset[str]]
    """Actor role -> the targets it may act on ("self" = its own account)."""
    prepare: Callable[[Fixtures, Any], Awaitable[Call]]
    target_status: str = "active"


def _with_self(
    table: dict[str, frozenset[str]], actors: frozenset[str]
) -> dict[str, frozenset[str]]:
    return {
        a: table.get(a, frozenset()) | ({"self"} if a in actors else set()) for a in RANK_ACTORS
    }


_ADMINS = frozenset({"owner", "admin"})
_ALL = frozenset(RANK_ACTORS)


def _on_user(
    json: Callable[[Fixtures], Any] | None = None,
) -> Callable[[Fixtures, Any], Awaitable[Call]]:
    async def prepare(fx: Fixtures, target: Any) -> Call:
        # by id: the actor's own email may have changed in an earlier case
        return Call({"user_ref": str(target.id)}, json=json(fx) if json else None)

    return prepare


async def _rank_key_for(fx: Fixtures, target: Any) -> Call:
    return Call(json={"user_id": str(target.id), "name": "minted"})


async def _rank_key(fx: Fixtures, target: Any) -> Call:
    return Call({"key_id": str((await fx.key(target)).id)})


async def _rank_key_rename(fx: Fixtures, target: Any) -> Call:
    return Call({"key_id": str((await fx.key(target)).id)}, json={"name": "renamed"})


async def _rank_token(fx: Fixtures, target: Any) -> Call:
    return Call({"token_id": str((await fx.token(target)).id)})


async def _rank_token_for(fx: Fixtures, target: Any) -> Call:
    return Call(json={"user_id": str(target.id), "name": "minted"})


async def _rank_group(fx: Fixtures, target: Any) -> Call:
    return Call({"user_ref": str(target.id)}, json={"group": (await fx.group()).name})


RANK_MATRIX: dict[tuple[str, str], RankCase] = {
    ("POST", "/api/users/{user_ref}/password"): RankCase(
        _with_self(_BELOW, _ADMINS), _on_user(lambda fx: {"password": STRONG_PASSWORD})
    ),
    ("POST", "/api/users/{user_ref}/setup-link"): RankCase(_with_self(_BELOW, _ADMINS), _on_user()),
    ("POST", "/api/users/{user_ref}/mfa/reset"): RankCase(_with_self(_BELOW, _ADMINS), _on_user()),
    ("PATCH", "/api/users/{user_ref}#email"): RankCase(
        _with_self(_BELOW, _ADMINS),
        _on_user(lambda fx: {"email": f"moved-{fx.unique()}@example.com"}),
    ),
    ("PATCH", "/api/users/{user_ref}#name"): RankCase(
        _with_self(_BELOW_OR_OWNER, _ADMINS), _on_user(lambda fx: {"name": "Renamed"})
    ),
    ("POST", "/api/users/{user_ref}/group"): RankCase(
        _with_self(_BELOW_OR_OWNER, _ADMINS), _rank_group
    ),
    ("POST", "/api/users/{user_ref}/suspend"): RankCase(
        _with_self(_BELOW_OR_OWNER, frozenset()), _on_user(lambda fx: {"reason": "rank"})
    ),
    ("POST", "/api/users/{user_ref}/reactivate"): RankCase(
        _with_self(_BELOW_OR_OWNER, frozenset()), _on_user(), target_status="suspended"
    ),
    ("DELETE", "/api/users/{user_ref}"): RankCase(
        _with_self(_BELOW_OR_OWNER, frozenset()), _on_user()
    ),
    ("POST", "/api/keys"): RankCase(_with_self(_BELOW, _ALL), _rank_key_for),
    ("PATCH", "/api/keys/{key_id}"): RankCase(_with_self(_BELOW, _ALL), _rank_key_rename),
    ("POST", "/api/keys/{key_id}/rotate"): RankCase(_with_self(_BELOW, _ALL), _rank_key),
    ("POST", "/api/keys/{key_id}/revoke"): RankCase(_with_self(_BELOW, _ALL), _rank_key),
    ("POST", "/api/tokens"): RankCase(_with_self({}, _ALL), _rank_token_for),
    ("POST", "/api/tokens/{token_id}/revoke"): RankCase(_with_self(_BELOW, _ALL), _rank_token),
}
"""A `#suffix` on a path only tells two cases of one route apart."""
