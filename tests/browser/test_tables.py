"""List tables in a real browser: a click on a header sorts (and the URL says so), the pager
pages, a hidden column stays hidden after a reload (localStorage) and the CSV link then holds
every row of the view in its order, in the columns shown; the overview draws its charts; the
wide reports fit at 1440 px."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Awaitable, Callable

from playwright.async_api import Page, expect

from .conftest import OWNER_EMAIL, Site, shot, sign_in

NewPage = Callable[..., Awaitable[Page]]


async def _ids(page: Page) -> list[int]:
    texts = await page.locator("#audit-events tbody tr td:first-child").all_inner_texts()
    return [int(t) for t in texts]


async def test_sort_page_choose_columns_and_download_what_is_shown(
    site: Site, new_page: NewPage
) -> None:
    for i in range(14):  # two audit events each: created, password set
        await site.add_user(f"table{i:02d}@browser.test")
    page = await new_page(width=1440)
    await sign_in(page, OWNER_EMAIL)
    await page.goto("/console/audit?per=25")
    await page.locator("#audit-events thead a.sort", has_text="#").click()
    await expect(page).to_have_url(re.compile(r"sort=id"))
    ascending = await _ids(page)
    assert ascending == sorted(ascending)
    assert len(ascending) == 25
    await expect(page.locator('#audit-events th[data-col="id"]')).to_have_attribute(
        "aria-sort", "ascending"
    )
    await page.locator("#audit-events-pager a", has_text="Next").click()
    await expect(page).to_have_url(re.compile(r"page=2"))
    second = await _ids(page)
    assert second
    assert min(second) > max(ascending)
    await page.locator("#audit-events thead a.sort", has_text="#").click()
    await expect(page).to_have_url(re.compile(r"sort=-id"))
    descending = await _ids(page)
    assert descending == sorted(descending, reverse=True)

    await page.locator("#audit-events-columns summary").click()
    await page.locator('#audit-events-columns input[data-col="changes"]').uncheck()
    changes = page.locator('#audit-events th[data-col="changes"]')
    await expect(changes).to_be_hidden()
    await page.reload()
    await expect(changes).to_be_hidden()  # the choice is remembered
    csv_link = page.locator("#audit-events-csv")
    await expect(csv_link).to_have_attribute("href", re.compile(r"cols=id%2Coccurred_at"))
    href = await csv_link.get_attribute("href")
    assert href
    download = await page.request.get(href)
    rows = list(csv.reader(io.StringIO(await download.text())))
    assert rows[0] == ["#", "When", "Who", "Action", "Target"]
    shown = await _ids(page)
    exported = [int(r[0]) for r in rows[1:]]
    assert exported[: len(shown)] == shown  # the view's order, from its first row
    assert exported == sorted(exported, reverse=True)
    assert len(exported) > len(shown)  # every row of the view, not only this page

    await page.locator("#audit-events-q").fill("table03@browser.test")
    await page.locator("#audit-events-filter").click()
    await expect(page).to_have_url(re.compile(r"q=table03"))
    await expect(page.locator("#audit-events tbody")).to_contain_text("table03@browser.test")
    await expect(page.locator("#audit-events tbody")).not_to_contain_text("table04@browser.test")
    await shot(page, "tables-audit-filtered")


async def test_the_overview_draws_its_charts_and_reports_fit_at_1440(
    site: Site, new_page: NewPage
) -> None:
    page = await new_page(width=1440, height=900)
    await sign_in(page, OWNER_EMAIL)
    await page.goto("/console/")
    for chart in ("budget-chart", "area-chart"):
        await expect(page.locator(f'canvas[data-chart="{chart}"]')).to_have_attribute(
            "data-drawn", "1"
        )
    await expect(page.locator("#month-outlook")).to_contain_text("forecast")
    await shot(page, "overview-charts")
    for url, table in (
        ("/console/usage/forecast", "forecast"),
        ("/console/usage/economics", "economics"),
        ("/console/usage/reconcile", "reconcile"),
    ):
        await page.goto(url)
        wrap = page.locator(f"#{table}").locator("xpath=..")
        fits = await wrap.evaluate("w => w.scrollWidth <= w.clientWidth + 1")
        assert fits, f"{url}: the table is wider than the page at 1440 px"
