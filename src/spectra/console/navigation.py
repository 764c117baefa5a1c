"""The console's left navigation, grouped by job, and the breadcrumbs it gives every page.

One table (labels in English, marked for the catalogue and translated when shown): each group lists its pages with who may open them (`admin`: owner, admin, billing,
auditor; `lead`: a team lead who is not an admin; `anyone` signed in). The current page is the
item whose address is the longest prefix of the request's path.
"""

from __future__ import annotations

from dataclasses import dataclass

from spectra.console.deps import Viewer
from spectra.console.i18n import N_, gettext


@dataclass(frozen=True, slots=True)
class Item:
    label: str
    href: str
    who: str = "admin"
    id: str = ""


@dataclass(frozen=True, slots=True)
class Group:
    label: str
    items: tuple[Item, ...]


@dataclass(frozen=True, slots=True)
class Crumb:
    label: str
    href: str | None


NAVIGATION = (
    Group(N_("Home"), (Item(N_("Overview"), "/console/"),)),
    Group(
        N_("Pool"), (Item(N_("Pool"), "/console/pool"), Item(N_("Fallbacks"), "/console/fallbacks"))
    ),
    Group(
        N_("People"),
        (
            Item(N_("Users"), "/console/users"),
            Item(N_("Groups"), "/console/groups"),
            Item(N_("My team"), "/console/team", who="lead", id="nav-team"),
        ),
    ),
    Group(
        N_("Money"),
        (
            Item(N_("Recharges"), "/console/recharges"),
            Item(N_("Codes"), "/console/codes"),
            Item(N_("Ledger"), "/console/ledger"),
            Item(N_("Budgets"), "/console/budgets"),
            Item(N_("Prices"), "/console/prices"),
        ),
    ),
    Group(
        N_("Usage"),
        (
            Item(N_("Usage"), "/console/usage"),
            Item(N_("Statements"), "/console/usage/statements"),
            Item(N_("Forecast"), "/console/usage/forecast"),
            Item(N_("Economics"), "/console/usage/economics"),
            Item(N_("Reconciliation"), "/console/usage/reconcile"),
        ),
    ),
    Group(
        N_("Policy"),
        (
            Item(N_("Packages"), "/console/packages"),
            Item(N_("Policy"), "/console/policy"),
            Item(N_("Drafts"), "/console/policy/drafts"),
            Item(N_("Rollouts"), "/console/rollouts"),
        ),
    ),
    Group(
        N_("Settings"),
        (
            Item(N_("Settings"), "/console/settings"),
            Item(N_("Alerts"), "/console/alerts"),
            Item(N_("Single sign-on"), "/console/sso-providers"),
            Item(N_("Audit"), "/console/audit"),
        ),
    ),
    Group(
        N_("Me"),
        (
            Item(N_("My portal"), "/console/me", who="anyone"),
            Item(N_("My keys"), "/console/me/keys", who="anyone"),
            Item(N_("My wallet"), "/console/me/wallet", who="anyone"),
            Item(N_("My usage"), "/console/me/usage", who="anyone"),
            Item(N_("API tokens"), "/console/me/tokens", who="anyone"),
            Item(N_("Account"), "/console/account", who="anyone"),
        ),
    ),
)


def _may_open(viewer: Viewer, item: Item) -> bool:
    if item.who == "admin":
        return viewer.is_admin_viewer
    if item.who == "lead":
        return viewer.is_lead
    return True


def navigation(viewer: Viewer) -> list[Group]:
    """The groups and items this viewer may open (a group with none is left out)."""
    groups = []
    for group in NAVIGATION:
        items = tuple(item for item in group.items if _may_open(viewer, item))
        if items:
            groups.append(Group(group.label, items))
    return groups


def current(groups: list[Group], path: str) -> str | None:
    """The href of the item the page at `path` belongs to."""
    best: str | None = None
    for group in groups:
        for item in group.items:
            href = item.href
            exact = href == "/console/"
            if (path == href if exact else path == href or path.startswith(href + "/")) and (
                best is None or len(href) > len(best)
            ):
                best = href
    if best is None and path in ("/console", "/console/"):
        return None
    return best


def crumbs(groups: list[Group], path: str, title: str | None) -> list[Crumb]:
    """Home › group › page item (› the page's own title when it is a page below the item)."""
    trail = [Crumb("Spectra", "/console/")]
    active = current(groups, path)
    for group in groups:
        for item in group.items:
            if item.href != active or item.href == "/console/":
                continue
            if group.label != item.label:
                trail.append(Crumb(gettext(group.label), None))
            trail.append(Crumb(gettext(item.label), item.href))
    if title and title != trail[-1].label:
        trail.append(Crumb(title, None))
    return trail
