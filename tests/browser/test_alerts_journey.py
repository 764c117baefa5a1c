"""Alerts in a real browser: an owner adds a Slack channel and a rule on the Alerts page and
sends a test that a local receiver gets (its outcome in the delivery history); a member whose
allowance crossed 80% sees the count in the header, reads the alert in their notification
centre and marks it read."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from playwright.async_api import Page, expect
from tests.alerts.receivers import http_receiver, until

from spectra.alerts import deliver
from spectra.alerts import service as alerts_service
from spectra.db.session import session_scope

from .conftest import Site, sign_in


async def test_an_owner_wires_slack_and_a_member_reads_their_own_alert(
    site: Site, new_page: Callable[[], Awaitable[Page]]
) -> None:
    async with http_receiver() as (hits, url):
        owner = await new_page()
        await sign_in(owner, site.owner_email)
        await owner.goto("/console/alerts")
        form = owner.locator("#add-channel-form")
        await form.get_by_label("Channel name").fill("ops")
        await form.get_by_label("Kind").select_option("slack")
        await form.get_by_label("Address or webhook URL").fill(f"{url}/services/T/B/C")
        await owner.locator("#add-channel").click()
        await expect(owner.locator("#flash")).to_have_text("Added the channel ops.")
        row = owner.locator('#alert-channels tr[data-channel-name="ops"]')
        await expect(row).to_contain_text("slack")
        await expect(row).not_to_contain_text("/services/T/B/C")
        rules = owner.locator("#add-rule-form")
        await rules.get_by_label("Event").select_option("package_allowance")
        await rules.get_by_label("Only this threshold (percent)").fill("80")
        await rules.get_by_label("Channel").select_option("ops")
        await owner.locator("#add-rule").click()
        await expect(owner.locator("#alert-rules")).to_contain_text("package_allowance")
        await row.locator("button.test-channel").click()
        await expect(owner.locator("#flash")).to_contain_text("is queued")
        deliverer = deliver.current()
        assert deliverer is not None
        await deliverer.wait_idle()
        await deliverer.deliver_due()
        await until(lambda: hits)
        assert json.loads(hits[0].body)["text"].startswith("Spectra test alert")
        await owner.reload()
        await expect(owner.locator("#alert-deliveries tr[data-status=delivered]")).to_have_count(1)

        member_id = await site.add_user("mia@browser.test")
        async with session_scope(site.runtime.db) as session:
            await alerts_service.raise_alert(
                session,
                event="package_allowance",
                subject_kind="package_allowance",
                subject_id="a1",
                dedupe_key="package_allowance:a1:2026-12-01:80",
                threshold_percent=80,
                member_id=member_id,
                title="80% of a Starter allowance is used",
                message="80% of your Starter allowance is used, it resets Jan 1.",
            )
        member = await new_page()
        await sign_in(member, "mia@browser.test")
        await expect(member.locator("#unread-count")).to_have_text("1")
        await member.locator("#notifications-link").click()
        item = member.locator("#notifications li.unread")
        await expect(item).to_contain_text(
            "80% of your Starter allowance is used, it resets Jan 1."
        )
        await member.locator("#mark-all-read").click()
        await expect(member.locator("#inbox-unread")).to_have_text("0 unread")
        await expect(member.locator("#notifications li.read")).to_have_count(1)
        await expect(member.locator("#unread-count")).to_have_text("")
        await deliverer.wait_idle()
        await deliverer.deliver_due()
        await until(lambda: len(hits) == 2)
        assert json.loads(hits[1].body)["text"] == (
            "80% of a Starter allowance is used: "
            "80% of your Starter allowance is used, it resets Jan 1."
        )
