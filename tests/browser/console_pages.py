"""Every console page a signed-in owner can open, for the accessibility pass and `make
screenshots`: the left navigation's pages (from the console's own table), the pages not in it,
and one of each detail page found by following the first link of its list."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page

from spectra.console.navigation import NAVIGATION
from spectra.demo.seed import SeedReport, seed

from .conftest import Site

AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
OTHER_PAGES = (
    "/console/notifications",
    "/console/account/mfa",
    "/console/account/sessions",
    "/console/packages-import",
    "/console/rollouts-new",
    "/console/ledger/verify",
    "/console/audit/verify",
    "/console/me/refusals",
    "/console/me/budgets",
    "/console/me/explain?model=claude-sonnet-4-5",
    "/console/search?q=a",
)
DETAILS = (  # (list page, the link to its first item)
    ("/console/users", "#users tbody a"),
    ("/console/groups", "main table tbody a"),
    ("/console/packages", "main table tbody a"),
    ("/console/pool", "#accounts tbody a"),
)


async def demo_workspace(site: Site, *, days: int = 35, volume: float = 0.05) -> SeedReport:
    """The demo workspace on `site` (its owner signs in with the usual PASSWORD), settled.
    35 days, not the default 30: a monthly package assigned 30 days ago renews today at 08:00,
    so on many days its current period would hold no usage yet."""
    report = await seed(
        site.runtime,
        upstream_url=site.upstream.url,
        owner_email=site.owner_email,
        password="spectra-demo",
        days=days,
        volume=volume,
    )
    await site.settle()
    return report


async def every_page(page: Page) -> list[str]:
    """The paths, in navigation order, then the other pages, then the detail pages."""
    paths = [item.href for group in NAVIGATION for item in group.items if item.who != "lead"]
    paths += OTHER_PAGES
    for list_path, link in DETAILS:
        await page.goto(list_path)
        first = page.locator(link).first
        if await first.count():
            href = await first.get_attribute("href")
            if href:
                paths.append(href)
    return paths


SERIOUS = ("serious", "critical")
AXE_RUN = """async () => {
  const result = await window.axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ") + " :: " + (n.failureSummary || "")),
  }));
}"""


async def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now (the context must be
    made with bypass_csp=True: axe is injected as an inline script)."""
    await page.add_script_tag(content=AXE.read_text())
    found = await page.evaluate(AXE_RUN)
    return [
        f"{page.url} [{v['impact']}] {v['id']}: {v['help']} at {v['nodes']}"
        for v in found
        if v["impact"] in SERIOUS
    ]
