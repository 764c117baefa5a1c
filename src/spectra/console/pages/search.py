"""The header search: people (email or name), keys (prefix or name), pool accounts and packages.

URL: GET /console/search?q= (the whole page; an htmx request, sent as the person types in the
header field, gets the results list alone). Every list comes from the domain services with the
viewer's Actor, so it holds only what the viewer may read: an admin viewer finds everything, a
team lead the people of the groups they lead and their own keys, a member their own keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import Response

from spectra.console.deps import ReadSessionDep, Viewer, ViewerDep
from spectra.console.i18n import _
from spectra.console.render import render
from spectra.db.session import ReadSession
from spectra.keys import service as keys_service
from spectra.packages import service as packages_service
from spectra.pool import service as pool_service
from spectra.users import service as users_service

router = APIRouter()

LIMIT = 8
"""Results per kind (the header list stays short; the page says when a kind has more)."""
CATALOG = 200
"""Pool accounts and packages are few: the first CATALOG are matched by name here."""


@dataclass(frozen=True, slots=True)
class Hit:
    label: str
    detail: str
    href: str


@dataclass(slots=True)
class Results:
    query: str
    kinds: dict[str, list[Hit]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not any(self.kinds.values())


async def _people(session: ReadSession, viewer: Viewer, q: str) -> list[Hit]:
    page = await users_service.list_users(session, viewer.actor, text=q, limit=LIMIT)
    hits = []
    for user in page.items:
        if viewer.is_admin_viewer:
            href = f"/console/users/{user.id}"
        elif user.group_id in viewer.led_groups:
            href = f"/console/team/{quote(user.group.name)}/members/{user.id}"
        else:
            href = "/console/team"
        hits.append(Hit(user.email, user.name or "", href))
    return hits


async def _keys(session: ReadSession, viewer: Viewer, q: str) -> list[Hit]:
    page = await keys_service.list_keys(session, viewer.actor, text=q, limit=LIMIT)
    return [
        Hit(
            f"{key.prefix}…",
            f"{key.name or 'unnamed'} · {key.user.email}",
            "/console/me/keys"
            if key.user_id == viewer.user_id
            else f"/console/users/{key.user_id}#user-keys",
        )
        for key in page.items
    ]


async def _accounts(session: ReadSession, viewer: Viewer, q: str) -> list[Hit]:
    page = await pool_service.list_accounts(session, viewer.actor, limit=CATALOG)
    wanted = q.lower()
    return [
        Hit(
            account.name,
            f"{account.provider} · {account.state.replace('_', ' ')}",
            f"/console/pool/{account.id}",
        )
        for account in page.items
        if wanted in account.name.lower()
    ][:LIMIT]


async def _packages(session: ReadSession, viewer: Viewer, q: str) -> list[Hit]:
    page = await packages_service.list_packages(session, viewer.actor, limit=CATALOG)
    wanted = q.lower()
    return [
        Hit(
            detail.package.name,
            f"{detail.active_assignments} holding",
            f"/console/packages/{quote(detail.package.name)}",
        )
        for detail in page.items
        if wanted in detail.package.name.lower()
    ][:LIMIT]


async def search_all(session: ReadSession, viewer: Viewer, q: str) -> Results:
    """What the viewer may read that matches `q` (nothing for a blank query)."""
    results = Results(query=q)
    if not q:
        return results
    if viewer.is_admin_viewer or viewer.is_lead:
        results.kinds["People"] = await _people(session, viewer, q)
    results.kinds["Keys"] = await _keys(session, viewer, q)
    if viewer.is_admin_viewer:
        results.kinds["Pool accounts"] = await _accounts(session, viewer, q)
        results.kinds["Packages"] = await _packages(session, viewer, q)
    return results


@router.get("/search")
async def search(request: Request, viewer: ViewerDep, session: ReadSessionDep) -> Response:
    q = (request.query_params.get("q") or "").strip()[:100]
    results = await search_all(session, viewer, q)
    if request.headers.get("hx-request") == "true":
        return render(request, viewer, "search/_results.html", results=results)
    return render(
        request, viewer, "search/index.html", title=_("Search"), results=results, search_q=q
    )
