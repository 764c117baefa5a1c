"""`make screenshots`: every console page of the demo workspace, as the owner, in both themes at
desktop (1440) and phone (390) width, into ./screenshots/<theme>-<width>/ for review. Skipped
unless SPECTRA_SCREENSHOTS names the folder (the make target sets it)."""

from __future__ import annotations

import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Page

from .conftest import Site, sign_in
from .console_pages import demo_workspace, every_page

pytestmark = pytest.mark.slow
NewPage = Callable[..., Awaitable[Page]]
TARGET = os.environ.get("SPECTRA_SCREENSHOTS")
VARIANTS = [("light", 1440, 900), ("dark", 1440, 900), ("light", 390, 844), ("dark", 390, 844)]


def _name(number: int, path: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", path.removeprefix("/console")).strip("-") or "overview"
    return f"{number:02d}-{slug[:80]}.png"


@pytest.mark.skipif(not TARGET, reason="make screenshots sets SPECTRA_SCREENSHOTS")
@pytest.mark.timeout(3600)
async def test_screenshots_of_every_page(site: Site, new_page: NewPage) -> None:
    assert TARGET is not None
    report = await demo_workspace(site)
    assert report.sent > 0
    for theme, width, height in VARIANTS:
        folder = Path(TARGET) / f"{theme}-{width}"
        folder.mkdir(parents=True, exist_ok=True)
        page = await new_page(width=width, height=height, color_scheme=theme)
        await sign_in(page, site.owner_email)
        for number, path in enumerate(await every_page(page), start=1):
            response = await page.goto(path)
            assert response is not None
            assert response.status < 400, path
            await page.wait_for_load_state("networkidle")
            await page.screenshot(path=str(folder / _name(number, path)), full_page=True)
