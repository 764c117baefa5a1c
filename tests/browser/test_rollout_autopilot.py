"""In a real browser: the rollout page's autopilot switch (asked first) and its timeline table,
and the switch at phone width."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page, expect

from spectra.audit.actor import local_actor
from spectra.db.session import session_scope
from spectra.policy import rollouts as rollouts_service
from spectra.policy.schemas import RolloutCreate
from spectra.users import service as users_service

from .conftest import OWNER_EMAIL, Site, shot, sign_in

pytestmark = pytest.mark.slow
NewPage = Callable[..., Awaitable[Page]]


async def test_switch_the_autopilot_on_and_read_the_timeline(site: Site, new_page: NewPage) -> None:
    async with session_scope(site.runtime.db) as session:
        await users_service.create_group(session, local_actor(), name="Platform")
        await rollouts_service.create_rollout(
            session,
            local_actor(),
            data=RolloutCreate.model_validate(
                {
                    "name": "opus",
                    "cohorts": [
                        {"name": "ten", "groups": ["Platform"], "percent": "10", "models": ["x"]}
                    ],
                }
            ),
        )
    admin = await new_page()
    await sign_in(admin, OWNER_EMAIL)
    await admin.goto("/console/rollouts/opus")
    await expect(admin.locator("#rollout-autopilot")).to_have_text("off")
    await expect(admin.locator("#timeline")).to_contain_text("Nothing yet")
    await admin.locator("#autopilot-toggle").click()
    await expect(admin.locator("#flash")).to_contain_text("Autopilot is on.")
    assert any("by itself" in question for question in site.dialogs)
    await expect(admin.locator("#rollout-autopilot")).to_have_text("on")
    await expect(admin.locator('#timeline tr[data-kind="autopilot_on"]')).to_be_visible()
    await shot(admin, "rollout-autopilot-timeline")
    phone = await new_page(width=390, height=844)
    await sign_in(phone, OWNER_EMAIL)
    await phone.goto("/console/rollouts/opus")
    await expect(phone.locator("#autopilot-toggle")).to_have_text("Turn autopilot off")
