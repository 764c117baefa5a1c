"""Policy: explain the access decision for any member and model (the gateway's own function,
with its trace), and each group's funding switches (set on the group page).

URLs: GET /console/policy?user=EMAIL&model=MODEL[&protocol=PROTOCOL].
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from spectra.console.deps import AdminDep, ReadSessionDep
from spectra.console.i18n import _
from spectra.console.render import render
from spectra.policy import repository as policy_repository
from spectra.policy import service as policy_service
from spectra.users import service as users_service

router = APIRouter()

PROTOCOLS = (
    ("anthropic_messages", "Anthropic Messages"),
    ("openai_chat", "OpenAI Chat Completions"),
    ("openai_responses", "OpenAI Responses"),
)


@router.get("/policy")
async def policy(
    request: Request,
    viewer: AdminDep,
    session: ReadSessionDep,
    user: str = "",
    model: str = "",
    protocol: str = "",
) -> Response:
    decision = None
    if user.strip() and model.strip():
        decision = (
            await policy_service.explain(
                session,
                viewer.actor,
                user=user.strip(),
                model=model.strip(),
                protocol=protocol or None,
            )
        ).as_json()
    groups = await users_service.list_groups(session, viewer.actor, limit=100)
    switches = []
    for group in groups.items:
        row = await policy_repository.get_group_policy(session, group.id)
        switches.append(
            {
                "group": group,
                "wallet_fallback": row.is_wallet_fallback if row else True,
                "group_wallet_fallback": row.is_group_wallet_fallback if row else True,
            }
        )
    return render(
        request,
        viewer,
        "policy/index.html",
        title=_("Policy"),
        nav="Policy",
        user=user,
        model=model,
        protocol=protocol,
        protocols=PROTOCOLS,
        decision=decision,
        models=await policy_service.served_models(session),
        switches=switches,
    )
