"""A group's whole policy (allowed and denied models, clients, request limits, funding switches,
caps with this month's spend) and its edit form. Editing drafts the change through the policy
service (POST /console/policy/drafts, as POST /api/policy/drafts): the draft page dry-runs and
publishes it, so nothing changes before a publish.

URLs: GET /console/groups/{name}/policy, GET /console/policy/group?group= (a picker's target).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import Response

from spectra.console.deps import AdminDep, ReadSessionDep, Viewer
from spectra.console.forms import Form
from spectra.console.i18n import N_, _, gettext
from spectra.console.render import redirect, render
from spectra.db.session import ReadSession
from spectra.policy import service as policy_service
from spectra.policy.schemas import GroupPolicyChange
from spectra.usage.clients import CLIENT_FAMILIES

router = APIRouter()

LISTS = ("allowed_models", "denied_models")
LIMITS = ("rpm", "tpm", "max_concurrent")
SWITCHES = ("wallet_fallback", "group_wallet_fallback")
CAPS = ("monthly_cap", "member_monthly_cap")
LABELS = {
    "allowed_models": N_("Allowed models"),
    "denied_models": N_("Denied models"),
    "allowed_clients": N_("Allowed clients"),
    "rpm": N_("Requests per minute"),
    "tpm": N_("Tokens per minute"),
    "max_concurrent": N_("Open requests"),
    "monthly_cap": N_("Group monthly cap"),
    "member_monthly_cap": N_("Per-member monthly cap"),
}


def form_values(policy: dict[str, Any]) -> dict[str, Any]:
    """The edit form's fields, filled from the group's current policy."""
    values: dict[str, Any] = {name: ", ".join(policy[name]) for name in LISTS}
    values.update({name: "" if policy[name] is None else str(policy[name]) for name in LIMITS})
    values.update({name: policy[name] or "" for name in CAPS})
    values["allowed_clients"] = list(policy["allowed_clients"])
    values.update({name: policy[name] for name in SWITCHES})
    return values


def policy_change(form: Form, policy: dict[str, Any]) -> GroupPolicyChange:
    """The fields the form changes against the current `policy`, as the service takes them.
    A blank limit or cap removes it; empty model and client lists mean "any"."""
    proposed: dict[str, Any] = {name: form.words(name) for name in LISTS}
    proposed["allowed_clients"] = form.all("allowed_clients")
    for name in LIMITS:
        proposed[name] = form.optional_int(name, label=LABELS[name])
    for name in CAPS:
        form.optional_amount(name, label=LABELS[name])  # a bad amount names its field
        proposed[name] = form.get(name)
    for name in SWITCHES:
        proposed[name] = form.flag(name)
    full = GroupPolicyChange.model_validate(proposed)
    current = {
        **{name: policy[name] for name in (*LISTS, "allowed_clients", *LIMITS, *SWITCHES)},
        **{name: policy[f"{name}_micros"] for name in CAPS},
    }
    changed = {
        name: proposed[name]
        for name in proposed
        if (
            set(getattr(full, name) or ()) != set(current[name] or ())
            if name in (*LISTS, "allowed_clients")
            else getattr(full, name) != current[name]
        )
    }
    return GroupPolicyChange.model_validate(changed)


async def render_group_policy(
    request: Request,
    viewer: Viewer,
    session: ReadSession,
    *,
    group: str,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    policy = await policy_service.get_group_policy(session, viewer.actor, group=group)
    return render(
        request,
        viewer,
        "groups/policy.html",
        status_code=status_code,
        title=_("Policy of %(policy)s", policy=policy["group"]),
        nav="Groups",
        policy=policy,
        values=values if values is not None else form_values(policy),
        errors=errors or {},
        clients=CLIENT_FAMILIES,
        labels={key: gettext(label) for key, label in LABELS.items()},
    )


@router.get("/groups/{name}/policy")
async def group_policy(
    name: str, request: Request, viewer: AdminDep, session: ReadSessionDep
) -> Response:
    return await render_group_policy(request, viewer, session, group=name)


@router.get("/policy/group")
async def pick_group(viewer: AdminDep, group: str = "") -> Response:
    """The drafts page's group picker: on to that group's policy page."""
    if not group.strip():
        return redirect("/console/policy/drafts", error=_("Pick a group."))
    return redirect(f"/console/groups/{quote(group.strip(), safe='')}/policy")
