"""The console's left navigation, grouped by job, and the breadcrumbs it gives every page.

One table: each group lists its pages with who may open them (`admin`: owner, admin, billing,
auditor; `lead`: a team lead who is not an admin; `anyone` signed in). The current page is the
item whose address is the longest prefix of the request's path.
"""

from __future__ import annotations

from dataclasses import dataclass

from spectra.console.deps import Viewer


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
    Group("Home", (Item("Overview", "/console/"),)),
    Group("Pool", (Item("Pool", "/console/pool"), Item("Fallbacks", "/console/fallbacks"))),
    Group(
        "People",
        (
            Item("Users", "/console/users"),
            Item("Groups", "/console/groups"),
            Item("My team", "/console/team", who="lead", id="nav-team"),
        ),
    ),
    Group(
        "Money",
        (
            Item("Recharges", "/console/recharges"),
            Item("Codes", "/console/codes"),
            Item("Ledger", "/console/ledger"),
            Item("Budgets", "/console/budgets"),
            Item("Prices", "/console/prices"),
        ),
    ),
    Group(
        "Usage",
        (
            Item("Usage", "/console/usage"),
            Item("Statements", "/console/usage/statements"),
            Item("Forecast", "/console/usage/forecast"),
            Item("Economics", "/console/usage/economics"),
            Item("Reconciliation", "/console/usage/reconcile"),
        ),
    ),
    Group(
        "Policy",
        (
            Item("Packages", "/console/packages"),
            Item("Policy", "/console/policy"),
            Item("Drafts", "/console/policy/drafts"),
            Item("Rollouts", "/console/rollouts"),
        ),
    ),
    Group(
        "Settings",
        (
            Item("Settings", "/console/settings"),
            Item("Alerts", "/console/alerts"),
            Item("Single sign-on", "/console/sso-providers"),
            Item("Audit", "/console/audit"),
        ),
    ),
    Group(
        "Me",
        (
            Item("My portal", "/console/me", who="anyone"),
            Item("My keys", "/console/me/keys", who="anyone"),
            Item("My wallet", "/console/me/wallet", who="anyone"),
            Item("My usage", "/console/me/usage", who="anyone"),
            Item("API tokens", "/console/me/tokens", who="anyone"),
            Item("Account", "/console/account", who="anyone"),
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
                trail.append(Crumb(group.label, None))
            trail.append(Crumb(item.label, item.href))
    if title and title != trail[-1].label:
        trail.append(Crumb(title, None))
    return trail
