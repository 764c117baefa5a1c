"""Every admin action of the REST API is reachable from the console.

The API's routes come from the app itself; each maps to the console route that carries the same
action (checked to exist), or sits on the named list of exemptions, each with its reason. A new
API route fails this test until it gets one or the other.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from spectra.app import create_app

# (API method, API path) -> (console method, console path)
COVERAGE: dict[tuple[str, str], tuple[str, str]] = {
    ("POST", "/api/auth/login"): ("POST", "/console/login"),
    ("POST", "/api/auth/login/second-factor"): ("POST", "/console/login/second-factor"),
    ("POST", "/api/auth/logout"): ("POST", "/console/logout"),
    ("POST", "/api/auth/setup"): ("POST", "/console/setup"),
    ("GET", "/api/me"): ("GET", "/console/me"),
    ("POST", "/api/me/password"): ("POST", "/console/account/password"),
    ("GET", "/api/me/packages"): ("GET", "/console/me"),
    ("GET", "/api/users"): ("GET", "/console/users"),
    ("POST", "/api/users"): ("POST", "/console/users"),
    ("POST", "/api/users/import"): ("POST", "/console/users/import"),
    ("GET", "/api/users/{user_ref}"): ("GET", "/console/users/{user_id}"),
    ("PATCH", "/api/users/{user_ref}"): ("POST", "/console/users/{user_id}/edit"),
    ("DELETE", "/api/users/{user_ref}"): ("POST", "/console/users/{user_id}/remove"),
    ("POST", "/api/users/{user_ref}/suspend"): ("POST", "/console/users/{user_id}/suspend"),
    ("POST", "/api/users/{user_ref}/reactivate"): ("POST", "/console/users/{user_id}/reactivate"),
    ("POST", "/api/users/{user_ref}/role"): ("POST", "/console/users/{user_id}/role"),
    ("POST", "/api/users/{user_ref}/group"): ("POST", "/console/users/{user_id}/group"),
    ("POST", "/api/users/{user_ref}/password"): ("POST", "/console/users/{user_id}/password"),
    ("POST", "/api/users/{user_ref}/setup-link"): ("POST", "/console/users/{user_id}/setup-link"),
    ("POST", "/api/users/{user_ref}/mfa/reset"): ("POST", "/console/users/{user_id}/mfa-reset"),
    ("GET", "/api/users/{user}/packages"): ("GET", "/console/users/{user_id}"),
    ("GET", "/api/groups"): ("GET", "/console/groups"),
    ("POST", "/api/groups"): ("POST", "/console/groups"),
    ("GET", "/api/groups/{group_ref}"): ("GET", "/console/groups/{name}"),
    ("PATCH", "/api/groups/{group_ref}"): ("POST", "/console/groups/{name}/edit"),
    ("PUT", "/api/groups/{group}/default-package"): (
        "POST",
        "/console/groups/{name}/default-package",
    ),
    ("GET", "/api/group-default-packages"): ("GET", "/console/packages"),
    ("GET", "/api/groups/{group_ref}/leads"): ("GET", "/console/groups/{name}"),
    ("PUT", "/api/groups/{group_ref}/leads/{user_ref}"): ("POST", "/console/groups/{name}/leads"),
    ("DELETE", "/api/groups/{group_ref}/leads/{user_ref}"): (
        "POST",
        "/console/groups/{name}/leads/remove",
    ),
    ("GET", "/api/users/{user_ref}/groups"): ("GET", "/console/users/{user_id}"),
    ("POST", "/api/users/{user_ref}/groups"): ("POST", "/console/users/{user_id}/groups"),
    ("DELETE", "/api/users/{user_ref}/groups/{group_ref}"): (
        "POST",
        "/console/users/{user_id}/groups/remove",
    ),
    ("POST", "/api/keys"): ("POST", "/console/me/keys"),
    ("GET", "/api/keys"): ("GET", "/console/me/keys"),
    ("GET", "/api/keys/{key_id}"): ("GET", "/console/users/{user_id}"),
    ("POST", "/api/keys/{key_id}/revoke"): ("POST", "/console/keys/{key_id}/revoke"),
    ("POST", "/api/keys/{key_id}/rotate"): ("POST", "/console/me/keys/{key_id}/rotate"),
    ("POST", "/api/tokens"): ("POST", "/console/me/tokens"),
    ("GET", "/api/tokens"): ("GET", "/console/me/tokens"),
    ("POST", "/api/tokens/{token_id}/revoke"): ("POST", "/console/me/tokens/{token_id}/revoke"),
    ("POST", "/api/tokens/scim"): ("POST", "/console/me/tokens/scim"),
    ("GET", "/api/fallbacks"): ("GET", "/console/fallbacks"),
    ("GET", "/api/budgets/keys"): ("GET", "/console/budgets"),
    ("GET", "/api/budgets/keys/{key_id}"): ("GET", "/console/budgets"),
    ("PATCH", "/api/budgets/keys/{key_id}"): ("POST", "/console/budgets/keys"),
    ("DELETE", "/api/budgets/keys/{key_id}"): ("POST", "/console/budgets/keys/{key_id}/clear"),
    ("GET", "/api/budgets/extensions"): ("GET", "/console/budgets"),
    ("POST", "/api/budgets/extensions"): ("POST", "/console/me/budgets/extensions"),
    ("POST", "/api/budgets/extensions/{extension_id}/approve"): (
        "POST",
        "/console/budgets/extensions/{extension_id}/approve",
    ),
    ("POST", "/api/budgets/extensions/{extension_id}/reject"): (
        "POST",
        "/console/budgets/extensions/{extension_id}/reject",
    ),
    ("GET", "/api/projects"): ("GET", "/console/projects"),
    ("POST", "/api/projects"): ("POST", "/console/projects"),
    ("GET", "/api/projects/{name}"): ("GET", "/console/projects/{name}"),
    ("PATCH", "/api/projects/{name}"): ("POST", "/console/projects/{name}/budget"),
    ("DELETE", "/api/projects/{name}"): ("POST", "/console/projects/{name}/remove"),
    ("POST", "/api/projects/{name}/members"): ("POST", "/console/projects/{name}/members"),
    ("POST", "/api/projects/{name}/keys"): ("POST", "/console/projects/{name}/keys"),
    ("GET", "/api/projects/{name}/report"): ("GET", "/console/projects/{name}"),
    ("PUT", "/api/fallbacks"): ("POST", "/console/fallbacks"),
    ("DELETE", "/api/fallbacks"): ("POST", "/console/fallbacks/clear"),
    ("GET", "/api/settings"): ("GET", "/console/settings"),
    ("PUT", "/api/settings/{name}"): ("POST", "/console/settings/{name}"),
    ("GET", "/api/alerts"): ("GET", "/console/alerts"),
    ("GET", "/api/alerts/events"): ("GET", "/console/alerts"),
    ("GET", "/api/alerts/deliveries"): ("GET", "/console/alerts"),
    ("GET", "/api/alerts/channels"): ("GET", "/console/alerts"),
    ("POST", "/api/alerts/channels"): ("POST", "/console/alerts/channels"),
    ("DELETE", "/api/alerts/channels/{name}"): ("POST", "/console/alerts/channels/{name}/remove"),
    ("POST", "/api/alerts/channels/{name}/test"): ("POST", "/console/alerts/channels/{name}/test"),
    ("GET", "/api/alerts/rules"): ("GET", "/console/alerts"),
    ("POST", "/api/alerts/rules"): ("POST", "/console/alerts/rules"),
    ("DELETE", "/api/alerts/rules/{rule_id}"): ("POST", "/console/alerts/rules/{rule_id}/remove"),
    ("GET", "/api/me/notifications"): ("GET", "/console/notifications"),
    ("POST", "/api/me/notifications/read"): ("POST", "/console/notifications/read"),
    ("GET", "/api/sso/providers"): ("GET", "/console/sso-providers"),
    ("POST", "/api/sso/providers"): ("POST", "/console/sso-providers"),
    ("GET", "/api/sso/providers/{name}"): ("GET", "/console/sso-providers/{name}"),
    ("PATCH", "/api/sso/providers/{name}"): ("POST", "/console/sso-providers/{name}/edit"),
    ("DELETE", "/api/sso/providers/{name}"): ("POST", "/console/sso-providers/{name}/remove"),
    ("POST", "/api/sso/providers/{name}/test"): ("POST", "/console/sso-providers/{name}/test"),
    ("GET", "/api/pool/accounts"): ("GET", "/console/pool"),
    ("POST", "/api/pool/accounts"): ("POST", "/console/pool"),
    ("GET", "/api/pool/accounts/by-name/{name}"): ("GET", "/console/pool"),
    ("GET", "/api/pool/accounts/{account_id}"): ("GET", "/console/pool/{account_id}"),
    ("PATCH", "/api/pool/accounts/{account_id}"): ("POST", "/console/pool/{account_id}/edit"),
    ("POST", "/api/pool/accounts/{account_id}/credential"): (
        "POST",
        "/console/pool/{account_id}/credential",
    ),
    ("POST", "/api/pool/accounts/{account_id}/test"): ("POST", "/console/pool/{account_id}/test"),
    ("POST", "/api/pool/accounts/{account_id}/disable"): (
        "POST",
        "/console/pool/{account_id}/disable",
    ),
    ("POST", "/api/pool/accounts/{account_id}/enable"): (
        "POST",
        "/console/pool/{account_id}/enable",
    ),
    ("POST", "/api/pool/accounts/{account_id}/reset"): ("POST", "/console/pool/{account_id}/reset"),
    ("GET", "/api/pool/accounts/{account_id}/history"): ("GET", "/console/pool/{account_id}"),
    ("GET", "/api/pool/alerts"): ("GET", "/console/pool"),
    ("GET", "/api/pool/status"): ("GET", "/console/me"),
    ("GET", "/api/ledger/balance"): ("GET", "/console/ledger"),
    ("GET", "/api/ledger/transactions"): ("GET", "/console/ledger"),
    ("GET", "/api/ledger/transactions/{transaction_id}"): ("GET", "/console/ledger"),
    ("POST", "/api/ledger/recharges"): ("POST", "/console/recharges"),
    ("GET", "/api/ledger/approvals"): ("GET", "/console/recharges"),
    ("POST", "/api/ledger/approvals/{approval_id}/approve"): (
        "POST",
        "/console/approvals/{approval_id}/approve",
    ),
    ("POST", "/api/ledger/approvals/{approval_id}/reject"): (
        "POST",
        "/console/approvals/{approval_id}/reject",
    ),
    ("POST", "/api/ledger/recharge-requests"): ("POST", "/console/me/recharge-request"),
    ("GET", "/api/ledger/recharge-requests"): ("GET", "/console/recharges"),
    ("GET", "/api/ledger/recharge-requests/{request_id}"): ("GET", "/console/recharges"),
    ("POST", "/api/ledger/recharge-requests/{request_id}/approve"): (
        "POST",
        "/console/recharge-requests/{request_id}/approve",
    ),
    ("POST", "/api/ledger/recharge-requests/{request_id}/reject"): (
        "POST",
        "/console/recharge-requests/{request_id}/reject",
    ),
    ("POST", "/api/ledger/adjustments"): ("POST", "/console/ledger/adjust"),
    ("POST", "/api/ledger/transfers"): ("POST", "/console/ledger/transfer"),
    ("POST", "/api/ledger/refunds"): ("POST", "/console/ledger/refund"),
    ("PUT", "/api/ledger/thresholds"): ("POST", "/console/ledger/threshold"),
    ("GET", "/api/ledger/notices"): ("GET", "/console/ledger"),
    ("GET", "/api/ledger/verify"): ("GET", "/console/ledger/verify"),
    ("POST", "/api/codes/batches"): ("POST", "/console/codes"),
    ("GET", "/api/codes/batches"): ("GET", "/console/codes"),
    ("POST", "/api/codes/batches/{batch_id}/revoke"): ("POST", "/console/codes/{batch_id}/revoke"),
    ("POST", "/api/codes/redeem"): ("POST", "/console/me/redeem"),
    ("GET", "/api/packages"): ("GET", "/console/packages"),
    ("POST", "/api/packages"): ("POST", "/console/packages"),
    ("GET", "/api/packages/{name}"): ("GET", "/console/packages/{name}"),
    ("PATCH", "/api/packages/{name}"): ("POST", "/console/packages/{name}/edit"),
    ("POST", "/api/packages/{name}/archive"): ("POST", "/console/packages/{name}/archive"),
    ("GET", "/api/packages/{name}/versions"): ("GET", "/console/packages/{name}"),
    ("POST", "/api/packages/{name}/assignments"): ("POST", "/console/packages/{name}/assign"),
    ("POST", "/api/packages/{name}/assignments/bulk"): ("POST", "/console/packages/{name}/bulk"),
    ("POST", "/api/packages/{name}/migrate"): ("POST", "/console/packages/{name}/migrate"),
    ("POST", "/api/package-assignments/import"): ("POST", "/console/packages-import"),
    ("GET", "/api/package-assignments"): ("GET", "/console/packages/{name}"),
    ("GET", "/api/package-assignments/{assignment_id}"): ("GET", "/console/users/{user_id}"),
    ("POST", "/api/package-assignments/{assignment_id}/cancel"): (
        "POST",
        "/console/assignments/{assignment_id}/cancel",
    ),
    ("GET", "/api/usage"): ("GET", "/console/usage"),
    ("GET", "/api/usage/report"): ("GET", "/console/usage"),
    ("GET", "/api/usage/timeseries"): ("GET", "/console/usage"),
    ("GET", "/api/usage/adoption"): ("GET", "/console/usage"),
    ("GET", "/api/usage/export"): ("GET", "/console/usage/export"),
    ("GET", "/api/statements"): ("GET", "/console/usage/statements"),
    ("GET", "/api/usage/forecast"): ("GET", "/console/usage/forecast"),
    ("GET", "/api/usage/economics"): ("GET", "/console/usage/economics"),
    ("GET", "/api/usage/reconcile"): ("GET", "/console/usage/reconcile"),
    ("GET", "/api/prices"): ("GET", "/console/prices"),
    ("GET", "/api/prices/{model}"): ("GET", "/console/prices"),
    ("POST", "/api/prices"): ("POST", "/console/prices"),
    ("PUT", "/api/prices"): ("POST", "/console/prices"),
    ("GET", "/api/audit/events"): ("GET", "/console/audit"),
    ("GET", "/api/audit/export"): ("GET", "/console/audit/export"),
    ("GET", "/api/audit/verify"): ("GET", "/console/audit/verify"),
    ("GET", "/api/policy/explain"): ("GET", "/console/policy"),
    ("PATCH", "/api/policy/groups/{group}"): ("POST", "/console/groups/{name}/funding"),
    ("GET", "/api/rollouts"): ("GET", "/console/rollouts"),
    ("POST", "/api/rollouts"): ("POST", "/console/rollouts"),
    ("POST", "/api/policy/drafts"): ("POST", "/console/policy/drafts"),
    ("GET", "/api/policy/groups/{group}"): ("GET", "/console/groups/{name}/policy"),
    ("GET", "/api/policy/drafts"): ("GET", "/console/policy/drafts"),
    ("GET", "/api/policy/drafts/{draft_id}"): ("GET", "/console/policy/drafts/{draft_id}"),
    ("POST", "/api/policy/drafts/{draft_id}/discard"): (
        "POST",
        "/console/policy/drafts/{draft_id}/discard",
    ),
    ("POST", "/api/policy/drafts/{draft_id}/dry-run"): (
        "POST",
        "/console/policy/drafts/{draft_id}/dry-run",
    ),
    ("POST", "/api/policy/drafts/{draft_id}/publish"): (
        "POST",
        "/console/policy/drafts/{draft_id}/publish",
    ),
    ("GET", "/api/rollouts/{rollout}"): ("GET", "/console/rollouts/{rollout}"),
    ("GET", "/api/rollouts/{rollout}/metrics"): ("GET", "/console/rollouts/{rollout}"),
    ("POST", "/api/rollouts/{rollout}/promote"): ("POST", "/console/rollouts/{rollout}/promote"),
    ("POST", "/api/rollouts/{rollout}/rollback"): ("POST", "/console/rollouts/{rollout}/rollback"),
    ("GET", "/api/rollouts/{rollout}/timeline"): ("GET", "/console/rollouts/{rollout}"),
    ("POST", "/api/rollouts/{rollout}/approve"): ("POST", "/console/rollouts/{rollout}/approve"),
    ("PUT", "/api/rollouts/{rollout}/autopilot"): (
        "POST",
        "/console/rollouts/{rollout}/autopilot",
    ),
    ("GET", "/api/rollouts/{rollout}/people"): ("GET", "/console/rollouts/{rollout}"),
    ("PUT", "/api/rollouts/{rollout}/owner"): ("POST", "/console/rollouts/{rollout}/owner"),
    ("POST", "/api/rollouts/{rollout}/watchers"): (
        "POST",
        "/console/rollouts/{rollout}/watchers",
    ),
    ("DELETE", "/api/rollouts/{rollout}/watchers/{user}"): (
        "POST",
        "/console/rollouts/{rollout}/watchers",
    ),
}

# API routes with no console counterpart, each with the reason.
EXEMPT: dict[tuple[str, str], str] = {
    ("PATCH", "/api/keys/{key_id}"): (
        "Editing a key's name/scopes/allowlist/expiry after creation is API/CLI only for now; "
        "the console sets them at creation, and rotate/revoke cover the rest."
    ),
    ("POST", "/api/usage/rollup"): (
        "Runs the rollup job now, for `spectra usage rollup`; the job also runs on its own "
        "schedule in every serving process, so the console has no button for it."
    ),
}


def _all_routes() -> set[tuple[str, str]]:
    """(method, path) of every HTTP route of the app, through included routers too."""
    app = create_app()
    found: set[tuple[str, str]] = set()

    def add(path: str, methods: Any) -> None:
        for method in methods or ():
            if method != "HEAD":
                found.add((method, path))

    for route in app.routes:
        if isinstance(route, Route):
            add(route.path, route.methods)
        contexts = getattr(route, "effective_route_contexts", None)
        if callable(contexts):
            for context in contexts():
                add(context.path, context.methods)
    return found


DOCS = {("GET", "/api/docs"), ("GET", "/api/openapi.json")}


def _api_routes() -> set[tuple[str, str]]:
    return {r for r in _all_routes() if r[1].startswith("/api/") and r not in DOCS}


def _console_routes() -> set[tuple[str, str]]:
    return {r for r in _all_routes() if r[1].startswith("/console")}


def test_every_api_route_has_a_console_route_or_a_named_exemption() -> None:
    missing = sorted(r for r in _api_routes() if r not in COVERAGE and r not in EXEMPT)
    assert not missing, f"API routes without a console route or an exemption: {missing}"


def test_every_mapped_console_route_exists() -> None:
    console = _console_routes()
    absent = sorted({target for target in COVERAGE.values() if target not in console})
    assert not absent, f"console routes named in COVERAGE that do not exist: {absent}"


def test_the_lists_name_only_real_api_routes() -> None:
    api = _api_routes()
    stale: list[Any] = sorted(r for r in [*COVERAGE, *EXEMPT] if r not in api)
    assert not stale, f"entries for API routes that no longer exist: {stale}"
    assert all(reason.strip() for reason in EXEMPT.values())
