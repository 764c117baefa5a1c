"""Tables fit, with data: on the demo workspace (days of usage, recharges, pool accounts) the
forecast, economics, reconciliation, usage and ledger pages never make the page wider than the
window at 1440 px, and on a phone (390 px) a wide table scrolls inside its own container while
the page itself does not scroll sideways."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from playwright.async_api import Page

from .conftest import Site, shot, sign_in
from .console_pages import demo_workspace

NewPage = Callable[..., Awaitable[Page]]

PAGES = (  # (path, the table that must hold rows)
    ("/console/usage/forecast", "#forecast"),
    ("/console/usage/economics", "#economics"),
    ("/console/usage/reconcile", "#reconcile"),
    ("/console/usage", "#usage-records"),
    ("/console/ledger", "#transactions"),
)

OVERFLOW = """() => {
  const main = document.querySelector("main");
  const root = document.documentElement;
  return {
    main: [main.scrollWidth, main.clientWidth],
    page: [root.scrollWidth, root.clientWidth],
    wraps: Array.from(main.querySelectorAll(".table-wrap")).map(w => ({
      id: (w.querySelector("table") || {}).id || "",
      scroll: w.scrollWidth, client: w.clientWidth,
      overflow: getComputedStyle(w).overflowX,
    })),
  };
}"""


async def test_tables_with_data_fit_at_1440_and_scroll_in_place_on_a_phone(
    site: Site, new_page: NewPage
) -> None:
    report = await demo_workspace(site, days=10, volume=0.03)
    assert report.sent > 0
    desktop = await new_page(width=1440, height=900)
    await sign_in(desktop, site.owner_email)
    phone = await new_page(width=390, height=844)
    await sign_in(phone, site.owner_email)
    for path, table in PAGES:
        await desktop.goto(path)
        rows = await desktop.locator(f"{table} tbody tr:not(.empty-row)").count()
        assert rows > 0, f"{path}: {table} has no rows to measure"
        size = await desktop.evaluate(OVERFLOW)
        name = path.removeprefix("/console/").replace("/", "-")
        if size["main"][0] > size["main"][1] or size["page"][0] > size["page"][1]:
            await shot(desktop, f"fit-1440-{name}")
        assert size["main"][0] <= size["main"][1], f"{path}: main overflows at 1440 px: {size}"
        assert size["page"][0] <= size["page"][1], f"{path}: the page scrolls sideways: {size}"
        for wrap in size["wraps"]:
            assert wrap["scroll"] <= wrap["client"] + 1, f"{path}: {wrap} is cut at 1440 px"

        await phone.goto(path)
        small = await phone.evaluate(OVERFLOW)
        if small["page"][0] > small["page"][1]:
            await shot(phone, f"fit-390-{name}")
        assert small["page"][0] <= small["page"][1], f"{path}: the page scrolls sideways: {small}"
        wide = [w for w in small["wraps"] if w["scroll"] > w["client"]]
        assert wide, f"{path}: no table is wider than a phone, nothing was measured: {small}"
        for wrap in wide:
            assert wrap["overflow"] in ("auto", "scroll"), f"{path}: {wrap} cannot scroll"
