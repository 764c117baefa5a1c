"""Screenshots of the main pages on the demo workspace (kept as CI artefacts): every page answers
and shows the seeded data, for the owner and for members."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page, expect

from .conftest import Site, shot, sign_in
from .console_pages import demo_workspace

pytestmark = pytest.mark.slow
NewPage = Callable[..., Awaitable[Page]]
ADMIN_PAGES = {
    "pool": ("/console/pool", "anthropic-primary"),
    "users": ("/console/users", "priya@demo.spectra.local"),
    "groups": ("/console/groups", "Platform"),
    "packages": ("/console/packages", "Starter"),
    "recharges": ("/console/recharges", "Runway to the end of the quarter"),
    "codes": ("/console/codes", "Hack day welcome codes"),
}
MEMBER_PAGES = {
    "priya": {
        "me": ("/console/me", "Power"),
        "me-usage": ("/console/me/usage", "claude"),
        "me-keys": ("/console/me/keys", "laptop"),
    },
    "tom": {"me-refusals": ("/console/me/refusals", "claude-opus-4-1")},
}


async def test_main_pages_of_the_demo_workspace(site: Site, new_page: NewPage) -> None:
    report = await demo_workspace(site)
    assert report.sent > 0

    owner = await new_page()
    await sign_in(owner, site.owner_email)
    for name, (path, seen) in ADMIN_PAGES.items():
        await owner.goto(path)
        await expect(owner.locator("main")).to_contain_text(seen)
        await shot(owner, f"demo-{name}")
    await owner.goto("/console/users?q=priya")
    await owner.get_by_role("link", name="priya@demo.spectra.local").click()
    await expect(owner.locator("#user-packages")).to_contain_text("Power")
    await expect(owner.locator("#user-packages")).not_to_contain_text("$0.00")  # Power was used
    await shot(owner, "demo-user-priya")

    for handle, pages in MEMBER_PAGES.items():
        member = await new_page()
        await sign_in(member, f"{handle}@demo.spectra.local", "spectra-demo")
        for name, (path, seen) in pages.items():
            await member.goto(path)
            await expect(member.locator("main")).to_contain_text(seen)
            await shot(member, f"demo-{handle}-{name}")

    phone = await new_page(width=390, height=844)
    await sign_in(phone, "priya@demo.spectra.local", "spectra-demo")
    await phone.goto("/console/me")
    await shot(phone, "demo-priya-me-phone")
