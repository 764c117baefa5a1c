"""The team-lead authorization matrix: EVERY route under /api (from the app's own route table)
× a lead acting on their own group × on another group, with a real lead's API token.

Expected answers come from one rule and two short lists:
- a route in `LEAD_OWN` succeeds when its target is in the lead's group and is refused (403, or
  404 where the route answers "not found" to everyone it hides things from) for another group;
- a route in `LEAD_LISTS` succeeds in both runs, shows the target in the lead's group and hides
  the other group's;
- every other route is what any member may do (the RBAC matrix allows `member`: self-service,
  the same in both runs) or is refused in both runs: workspace-level routes (pool credentials,
  settings, other groups, packages catalog, reports) are no business of a lead.
A route added to the app later is checked by that rule at once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from tests.factories import make_group, make_user

from spectra.audit.actor import local_actor
from spectra.db.session import session_scope
from spectra.keys import service as keys_service
from spectra.kit.money import parse_amount
from spectra.ledger import service as ledger_service
from spectra.packages import service as packages_service
from spectra.runtime import Runtime
from spectra.users import service as users_service
from spectra.users.passwords import hash_password

from .rbac_matrix import MATRIX, Call, Prepare, fill
from .test_rbac import DENIED_CODES, PASSWORD, Fixtures, _code, api_routes

LEAD_LIMIT = "100"
GROUP_FUNDS = "500"


class LeadFixtures(Fixtures):
    """Fixtures whose members, groups and packages belong to `target` (the lead's own group in
    one run, another group in the other)."""

    def __init__(self, runtime: Runtime, target: Any) -> None:
        super().__init__(runtime)
        self.target = target

    async def user(self, *, status: str = "active", role: str = "member") -> Any:
        async with session_scope(self.runtime.db) as session:
            return await make_user(
                session,
                email=f"lead-target-{self.unique()}-{role}@example.com",
                role=role,
                status=status,
                group_id=self.target.id,
                password_hash=self._hash,
            )

    async def group(self) -> Any:
        return self.target

    async def package(self) -> Any:
        """A fresh package, made the target group's default (what a lead may hand out)."""
        detail = await super().package()
        async with session_scope(self.runtime.db) as session:
            await packages_service.set_group_default_package(
                session, local_actor(), group=self.target.name, package=detail.package.name
            )
        return detail


async def _new_member(fx: Any) -> Call:
    return Call(json={"email": f"new-{fx.unique()}@example.com", "group": fx.target.name})


async def _group_forecast(fx: Any) -> Call:
    return Call(params={"group": fx.target.name})


async def _member_forecast(fx: Any) -> Call:
    return Call(params={"user": (await fx.user()).email})


async def _member_usage(fx: Any) -> Call:
    return Call(params={"user": (await fx.user()).email})


async def _group_usage(fx: Any) -> Call:
    return Call(params={"group": fx.target.name})


async def _group_balance(fx: Any) -> Call:
    return Call(params={"group_name": fx.target.name})


async def _group_report(fx: Any) -> Call:
    return Call(params={"by": "user", "group": fx.target.name})


async def _members_request(fx: Any) -> Call:
    return Call({"request_id": str((await fx.recharge_request()).id)})


LEAD_OWN: dict[tuple[str, str], Prepare | None] = {
    ("GET", "/api/users/{user_ref}"): None,
    ("POST", "/api/users"): _new_member,
    ("POST", "/api/users/{user_ref}/suspend"): None,
    ("POST", "/api/users/{user_ref}/reactivate"): None,
    ("POST", "/api/users/{user_ref}/setup-link"): None,
    ("GET", "/api/users/{user_ref}/groups"): None,
    ("GET", "/api/groups/{group_ref}"): None,
    ("GET", "/api/groups/{group_ref}/leads"): None,
    ("POST", "/api/keys"): None,
    ("GET", "/api/keys/{key_id}"): None,
    ("GET", "/api/budgets/keys/{key_id}"): None,
    ("POST", "/api/keys/{key_id}/revoke"): None,
    ("PATCH", "/api/keys/{key_id}"): None,
    ("POST", "/api/keys/{key_id}/rotate"): None,
    ("POST", "/api/packages/{name}/assignments"): None,
    ("GET", "/api/package-assignments/{assignment_id}"): None,
    ("POST", "/api/package-assignments/{assignment_id}/cancel"): None,
    ("GET", "/api/users/{user}/packages"): None,
    ("GET", "/api/ledger/balance"): None,
    ("GET", "/api/ledger/transactions"): None,
    ("POST", "/api/ledger/recharge-requests/{request_id}/approve"): None,
    ("POST", "/api/ledger/recharge-requests/{request_id}/reject"): None,
    ("POST", "/api/ledger/transfers"): None,
    ("GET", "/api/statements"): None,
    ("GET", "/api/policy/explain"): None,
    ("GET", "/api/usage/forecast"): _group_forecast,
    ("GET", "/api/usage/report"): _group_report,
    ("GET", "/api/usage/timeseries"): _group_forecast,
    ("GET", "/api/usage/adoption"): _group_forecast,
    ("POST", "/api/budgets/extensions/{extension_id}/approve"): None,
    ("POST", "/api/budgets/extensions/{extension_id}/reject"): None,
}
"""Routes a lead may use on their own group's members (with the RBAC matrix's `prepare`, whose
targets the fixtures put in the run's group, unless one is given here)."""

# Routes of the member kind that a lead also uses with a target (a member of the run's group):
# the same URL a member uses for themselves, pointed at someone else.
LEAD_OWN_EXTRA: dict[str, tuple[str, str, Prepare]] = {
    "usage of a member": ("GET", "/api/usage", _member_usage),
    "usage of the group": ("GET", "/api/usage", _group_usage),
    "forecast of a member": ("GET", "/api/usage/forecast", _member_forecast),
    "balance of the group wallet": ("GET", "/api/ledger/balance", _group_balance),
    "a member's recharge request": (
        "GET",
        "/api/ledger/recharge-requests/{request_id}",
        _members_request,
    ),
}

Finder = Callable[[dict[str, Any], Any], bool]


async def _target_user(fx: Any) -> Any:
    return await fx.user()


async def _target_request(fx: Any) -> Any:
    return await fx.recharge_request()


async def _target_extension(fx: Any) -> Any:
    return await fx.pending_extension()


LEAD_LISTS: dict[tuple[str, str], tuple[Callable[[Any], Awaitable[Any]], Finder]] = {
    ("GET", "/api/users"): (
        _target_user,
        lambda page, user: user.email in {i["email"] for i in page["items"]},
    ),
    ("GET", "/api/groups"): (
        lambda fx: fx.group(),
        lambda page, group: group.name in {i["name"] for i in page["items"]},
    ),
    ("GET", "/api/group-default-packages"): (
        lambda fx: fx.package(),
        lambda page, detail: detail.package.name in {i["package"] for i in page["items"]},
    ),
    ("GET", "/api/ledger/recharge-requests"): (
        _target_request,
        lambda page, request: str(request.id) in {i["id"] for i in page["items"]},
    ),
    ("GET", "/api/budgets/extensions"): (
        _target_extension,
        lambda page, extension: str(extension.id) in {i["id"] for i in page["items"]},
    ),
}
"""Lists a lead may read: filtered to their groups (the target shows in the own run only)."""


async def _lead(runtime: Runtime) -> tuple[Any, Any, Any, dict[str, str]]:
    """(lead user, their group, another group, auth header): the lead is a `member` who leads
    one group with a limit; both groups' wallets hold money; another owner exists."""
    async with session_scope(runtime.db) as session:
        await make_user(session, email="matrix-owner@example.com", role="owner")
        mine = await make_group(session, name="lead-team")
        other = await make_group(session, name="other-team")
        lead = await make_user(
            session,
            email="lead@example.com",
            group_id=mine.id,
            password_hash=hash_password(PASSWORD),
        )
        await users_service.set_lead(
            session,
            local_actor(),
            group=mine.id,
            user=lead.id,
            approval_limit_micros=parse_amount(LEAD_LIMIT),
        )
        for group in (mine, other):
            await ledger_service.recharge(
                session,
                local_actor(),
                group_id=group.id,
                amount=parse_amount(GROUP_FUNDS),
                memo="lead matrix: group budget",
                idempotency_key=f"lead-matrix-fund:{group.id}",
            )
        _, secret = await keys_service.create_token(session, local_actor(), user_id=lead.id)
    return lead, mine, other, {"authorization": f"Bearer {secret}"}


async def _send(
    client: httpx.AsyncClient, method: str, path: str, call: Call, headers: dict[str, str]
) -> httpx.Response:
    return await client.request(
        method, fill(path, call.path_params), json=call.json, params=call.params, headers=headers
    )


def _verdict(where: str, expect: str, response: httpx.Response) -> list[str]:
    """[] when `response` is what `expect` says: `allow` (2xx), `deny` (403 with a refusal
    code) or `hide` (403 refusal, or a 404 for a thing looked up by id)."""
    code, status = _code(response), response.status_code
    if expect == "allow" and status >= 400:
        return [f"{where}: should be allowed, got {status} {code}: {response.text[:200]}"]
    if expect == "deny" and (status != 403 or code not in DENIED_CODES):
        return [f"{where}: should be refused (403), got {status} {code}"]
    if expect == "hide" and not (
        (status == 403 and code in DENIED_CODES) or (status == 404 and code is not None)
    ):
        return [f"{where}: should be refused (403/404), got {status} {code}"]
    return []


def test_the_lead_tables_name_only_served_routes(app: Any) -> None:
    served = api_routes(app)
    named = set(LEAD_OWN) | set(LEAD_LISTS) | {(m, p) for m, p, _ in LEAD_OWN_EXTRA.values()}
    assert not named - served, sorted(named - served)
    assert served <= set(MATRIX), "every route needs its RBAC entry first"


@pytest.mark.parametrize("run", ["own", "other"])
async def test_lead_matrix(run: str, runtime: Runtime, app: Any, client: httpx.AsyncClient) -> None:
    lead, mine, other, headers = await _lead(runtime)
    fx = LeadFixtures(runtime, mine if run == "own" else other)
    fx.caller = lead
    wrong: list[str] = []
    for method, path in sorted(api_routes(app)):
        case = MATRIX[(method, path)]
        if case.public:
            continue
        where = f"{method} {path} ({run} group)"
        if (method, path) in LEAD_LISTS:
            make, finds = LEAD_LISTS[(method, path)]
            target = await make(fx)
            response = await _send(client, method, path, Call(params={"limit": 200}), headers)
            wrong += _verdict(where, "allow", response)
            if response.status_code < 400 and finds(response.json(), target) != (run == "own"):
                wrong.append(f"{where}: the target should be listed only in the own run")
            continue
        if (method, path) in LEAD_OWN:
            prepare = LEAD_OWN[(method, path)] or case.prepare
            expect = "allow" if run == "own" else "hide"
        else:
            prepare = case.prepare
            expect = "allow" if "member" in case.allow else "deny"
        call = await prepare(fx)
        wrong += _verdict(where, expect, await _send(client, method, path, call, headers))
    for name, (method, path, prepare) in sorted(LEAD_OWN_EXTRA.items()):
        call = await prepare(fx)
        response = await _send(client, method, path, call, headers)
        wrong += _verdict(f"{name} ({run} group)", "allow" if run == "own" else "hide", response)
    assert not wrong, "\n".join(wrong)
